using AutoMirror.Testing.Fakes;
using System.Runtime.CompilerServices;
using Amazon;
using Amazon.Runtime;

namespace AutoMirror.Aws.Tests.Support;

public static class TestClients
{
    public static AwsClientOptions Options(HttpMessageHandler handler, TimeProvider? time = null, RetryPolicy? retry = null, Func<double>? jitter = null) => new()
    {
        Region = RegionEndpoint.USEast1,
        Credentials = new BasicAWSCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        EndpointUrl = new Uri("http://127.0.0.1:1/"),
        Handler = handler,
        TimeProvider = time ?? new ManualTimeProvider { AutoAdvance = true },
        Retry = retry ?? RetryPolicy.Default,
        Jitter = jitter ?? (() => 0.5),
    };

    /// <summary>
    /// No test may reach real AWS or the instance metadata service: the credential and region chains see an empty,
    /// IMDS-disabled environment whatever the machine running the tests has set.
    /// </summary>
    [ModuleInitializer]
    internal static void IsolateFromMachineCredentials()
    {
        foreach (var name in (string[])["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
                     "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"])
        {
            Environment.SetEnvironmentVariable(name, null);
        }

        var nowhere = Path.Combine(Path.GetTempPath(), "automirror-tests-no-aws-config-" + Guid.NewGuid().ToString("N"));
        Environment.SetEnvironmentVariable("AWS_SHARED_CREDENTIALS_FILE", Path.Combine(nowhere, "credentials"));
        Environment.SetEnvironmentVariable("AWS_CONFIG_FILE", Path.Combine(nowhere, "config"));
        Environment.SetEnvironmentVariable("AWS_EC2_METADATA_DISABLED", "true");
    }
}
