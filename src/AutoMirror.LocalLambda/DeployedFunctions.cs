using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;

namespace AutoMirror.LocalLambda;

/// <summary>
/// The functions a deployed stack holds, read as Lambda itself reads them: the configuration (handler and exactly the
/// environment CloudFormation resolved) from the Lambda API of the cloud the stack was deployed to, by the name or
/// ARN an invoke names. A function the cloud does not have is not found, as on Lambda.
/// </summary>
public sealed class DeployedFunctions(HttpClient http, Uri lambdaApi)
{
    private static readonly string Region =
        Environment.GetEnvironmentVariable("AWS_REGION") ?? Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION") ?? "us-east-1";

    private readonly ConcurrentDictionary<string, FunctionDefinition> _known = new(StringComparer.Ordinal);

    public async Task<FunctionDefinition?> FindAsync(string functionNameOrArn, CancellationToken cancellationToken)
    {
        var name = FunctionCatalog.NameOf(functionNameOrArn);
        if (_known.TryGetValue(name, out var known))
        {
            return known;
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(lambdaApi, $"2015-03-31/functions/{Uri.EscapeDataString(name)}/configuration"));
        // The local cloud serves every service on one port and tells them apart by the credential scope of the
        // Authorization header; it checks no signature, and this host holds no credentials to sign with.
        request.Headers.TryAddWithoutValidation("Authorization",
            $"AWS4-HMAC-SHA256 Credential=local/{DateTime.UtcNow:yyyyMMdd}/{Region}/lambda/aws4_request, SignedHeaders=host, Signature=0");
        using var answer = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (answer.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        answer.EnsureSuccessStatusCode();
        using var document = JsonDocument.Parse(await answer.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
        var root = document.RootElement;
        var handler = root.TryGetProperty("Handler", out var h) && h.GetString() is { Length: > 0 } text
            ? text
            : throw new InvalidDataException($"the deployed function {name} has no Handler");
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        if (root.TryGetProperty("Environment", out var env) && env.TryGetProperty("Variables", out var variables))
        {
            foreach (var variable in variables.EnumerateObject())
            {
                environment[variable.Name] = variable.Value.GetString() ?? "";
            }
        }

        return _known.GetOrAdd(name, new FunctionDefinition(name, handler, environment));
    }
}
