using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AutoMirror.LocalLambda;

public sealed record LocalLambdaOptions(
    int Port,
    IReadOnlyDictionary<string, FunctionDefinition> Functions,
    IReadOnlyDictionary<string, string> Environment,
    string? AssemblyDirectory = null,
    Uri? DeployedIn = null);

/// <summary>
/// Lambda's Invoke API on loopback: <c>POST /2015-03-31/functions/{name}/invocations</c>. A handler's exception is
/// answered as Lambda answers it — 200, <c>X-Amz-Function-Error: Unhandled</c>, and
/// <c>{"errorType","errorMessage","stackTrace"}</c> with the exception's short type name — so a Step Functions
/// interpreter sees the same error names as on AWS.
/// </summary>
public sealed class LocalLambdaServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private LocalLambdaServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    public Uri Address { get; }

    public static async Task<LocalLambdaServer> StartAsync(LocalLambdaOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, options.Port));
        var app = builder.Build();
        var catalog = new FunctionCatalog(options.Functions);
        var invoker = new HandlerInvoker(options.AssemblyDirectory, options.Environment);
        var deployed = options.DeployedIn is null ? null : new DeployedFunctions(new HttpClient(), options.DeployedIn);

        app.MapPost("/2015-03-31/functions/{name}/invocations", (string name, HttpContext context) => InvokeAsync(name, context, catalog, deployed, invoker));
        app.MapGet("/health", () => Results.Text("{\"ready\":true}", "application/json"));

        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var bound = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new LocalLambdaServer(app, new Uri(bound.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)));
    }

    private static async Task InvokeAsync(string name, HttpContext context, FunctionCatalog catalog, DeployedFunctions? deployed, HandlerInvoker invoker)
    {
        var response = context.Response;
        var function = deployed is null
            ? catalog.Resolve(name)
            : await deployed.FindAsync(name, context.RequestAborted).ConfigureAwait(false);
        if (function is null)
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            response.Headers["x-amzn-ErrorType"] = "ResourceNotFoundException";
            await response.WriteAsJsonAsync(new Dictionary<string, string>
            {
                ["Type"] = "User",
                ["Message"] = $"Function not found: {name}",
            }).ConfigureAwait(false);
            return;
        }

        using var payload = new MemoryStream();
        await context.Request.Body.CopyToAsync(payload, context.RequestAborted).ConfigureAwait(false);
        payload.Position = 0;
        var invocationType = context.Request.Headers["X-Amz-Invocation-Type"].ToString();
        if (invocationType == "DryRun")
        {
            response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        if (invocationType == "Event")
        {
            // Asynchronous invoke: accepted now, run detached; its failures are only logged, as on Lambda.
            var copy = new MemoryStream(payload.ToArray());
            _ = Task.Run(async () =>
            {
                try
                {
                    await using var ignored = await invoker.InvokeAsync(function, copy).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    await Console.Error.WriteLineAsync($"{function.LogicalId}: async invoke failed: {e.GetType().Name}: {e.Message}").ConfigureAwait(false);
                }
            });
            response.StatusCode = StatusCodes.Status202Accepted;
            return;
        }

        response.Headers["X-Amz-Executed-Version"] = "$LATEST";
        Stream result;
        try
        {
            result = await invoker.InvokeAsync(function, payload).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            response.StatusCode = StatusCodes.Status200OK;
            response.Headers["X-Amz-Function-Error"] = "Unhandled";
            response.ContentType = "application/json";
            await response.WriteAsync(ErrorBody(e)).ConfigureAwait(false);
            return;
        }

        await using (result.ConfigureAwait(false))
        {
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/json";
            await result.CopyToAsync(response.Body).ConfigureAwait(false);
        }
    }

    /// <summary>The .NET runtime's error document: short type name, message, stack trace lines.</summary>
    public static string ErrorBody(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("errorType", exception.GetType().Name);
            json.WriteString("errorMessage", exception.Message);
            json.WriteStartArray("stackTrace");
            foreach (var line in (exception.StackTrace ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                json.WriteStringValue(line);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
