using AutoMirror.Aws;
using AutoMirror.Core.Configuration;

namespace AutoMirror.Core.Teardown;

/// <summary>
/// The teardown functions' composition root: settings read once from the environment, the real AWS clients
/// (region, credentials and endpoints as every SDK reads them), the system clock. Built by a handler's runtime
/// constructor, so once per container: the runtime keeps that handler instance warm across invocations.
/// </summary>
public sealed record TeardownComposition(TeardownService Service, TeardownLog Log)
{
    public static TeardownComposition FromEnvironment()
    {
        var settings = TeardownSettings.From(AutoMirrorSettings.FromEnvironment());
        var clients = AwsClients.FromEnvironment();
        return new TeardownComposition(
            new TeardownService(clients.Ec2, clients.CloudWatch, clients.StepFunctions, TimeProvider.System, settings),
            TeardownLog.Console);
    }
}
