using System.Diagnostics;
using System.Text.Json;
using Amazon;
using Amazon.Runtime;
using AutoMirror.Aws.Ec2;
using AutoMirror.Aws.Tests.Support;

namespace AutoMirror.Aws.Tests.Contract;

/// <summary>
/// The local cloud does not check signatures, so the SDK signer's output is checked here against botocore's SigV4,
/// recomputed independently for the exact bytes that went on the wire.
/// </summary>
public sealed class SignatureTests
{
    [Fact]
    public async Task Signatures_MatchBotocoresSigV4_ForQueryAndJsonRequests()
    {
        var handler = new RecordingHandler((request, _) => request.Headers.ContainsKey("X-Amz-Target")
            ? RecordingHandler.Json("{\"executionArn\":\"arn:e\",\"startDate\":1767225600}")
            : RecordingHandler.Xml("<CreateTagsResponse/>"));
        var options = TestClients.Options(handler) with
        {
            Region = RegionEndpoint.APSoutheast2,
            Credentials = new SessionAWSCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "FQoGZXIvYXdzEXAMPLE//token="),
            EndpointUrl = new Uri("http://127.0.0.1:4566/"),
        };
        using var clients = new AwsClients(options);

        await clients.Ec2.CreateTagsAsync(["i-1"], new Dictionary<string, string> { ["Name"] = "web server & db = 100%", ["lab"] = "labör/1+2" }, CancellationToken.None);
        await clients.StepFunctions.StartExecutionAsync("arn:aws:states:ap-southeast-2:123456789012:stateMachine:attach", "evt-1", "{\"note\":\"ünïcode \\\"quoted\\\"\"}", CancellationToken.None);

        var captured = handler.Requests.ToList();
        var payload = captured.Select(r => new Dictionary<string, object?>
        {
            ["url"] = r.Uri.ToString(),
            ["headers"] = r.Headers,
            ["body"] = r.Body,
            ["accessKey"] = "AKIDEXAMPLE",
            ["secretKey"] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            ["token"] = "FQoGZXIvYXdzEXAMPLE//token=",
            ["region"] = "ap-southeast-2",
            ["service"] = r.Headers.ContainsKey("X-Amz-Target") ? "states" : "ec2",
        }).ToList();

        var verdicts = await Botocore(JsonSerializer.Serialize(payload));

        Assert.Equal(captured.Count, verdicts.GetArrayLength());
        for (var i = 0; i < captured.Count; i++)
        {
            var verdict = verdicts[i];
            var authorization = captured[i].Headers["Authorization"];
            Assert.True(verdict.GetProperty("bodyHashMatches").GetBoolean(), "X-Amz-Content-SHA256 is not the SHA-256 of the body sent");
            Assert.EndsWith("Signature=" + verdict.GetProperty("signature").GetString(), authorization, StringComparison.Ordinal);
            Assert.Contains("SignedHeaders=" + verdict.GetProperty("signedHeaders").GetString() + ",", authorization, StringComparison.Ordinal);
        }
    }

    private static async Task<JsonElement> Botocore(string input)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "Contract", "sigv4_check.py");
        var start = new ProcessStartInfo("python3", [script]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");
        await process.StandardInput.WriteAsync(input);
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, await errors);
        return JsonDocument.Parse(await output).RootElement.Clone();
    }
}
