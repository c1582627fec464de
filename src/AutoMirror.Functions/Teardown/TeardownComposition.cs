using AutoMirror.Aws;
using AutoMirror.Functions.Configuration;

namespace AutoMirror.Functions.Teardown;

/// <summary>
/// The teardown functions' composition root: settings read once, the real AWS clients (region, credentials and
/// endpoints as every SDK reads them), the system clock. One per container, shared by its invocations.
/// </summary>
public static class TeardownComposition
{
    private static readonly Lazy<(TeardownService Service, TeardownLog Log)> Shared = new(Build);

    public static TeardownService Service => Shared.Value.Service;

    public static TeardownLog Log => Shared.Value.Log;

    private static (TeardownService, TeardownLog) Build()
    {
        var settings = TeardownSettings.From(AutoMirrorSettings.FromEnvironment());
        var clients = AwsClients.FromEnvironment();
        return (new TeardownService(clients.Ec2, clients.CloudWatch, clients.StepFunctions, TimeProvider.System, settings), TeardownLog.Console);
    }
}
