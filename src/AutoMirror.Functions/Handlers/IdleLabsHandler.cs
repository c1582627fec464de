using AutoMirror.Core;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using AutoMirror.Core.Teardown;

namespace AutoMirror.Functions.Handlers;

/// <summary>
/// IdleLabsFunction (teardown schedule): assesses every lab, logs one line per lab and starts the teardown
/// workflow for each idle one. The scheduled event's content is not used: the time comes from the clock.
/// </summary>
public sealed class IdleLabsHandler
{
    private readonly TeardownService _service;
    private readonly TeardownLog _log;

    /// <summary>The Lambda runtime's constructor: real AWS clients and settings from the environment.</summary>
    public IdleLabsHandler()
        : this(TeardownComposition.FromEnvironment())
    {
    }

    private IdleLabsHandler(TeardownComposition composition)
        : this(composition.Service, composition.Log)
    {
    }

    public IdleLabsHandler(TeardownService service, TeardownLog log)
    {
        _service = service;
        _log = log;
    }

    public async Task<Stream> HandleAsync(Stream input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var result = await _service.StartIdleTeardownsAsync(CancellationToken.None);
        foreach (var lab in result.Labs)
        {
            _log.Write(lab, "assess");
        }

        return Serialize(result, AutoMirrorJsonContext.Default.IdleLabsResult);
    }

    internal static MemoryStream Serialize<T>(T value, JsonTypeInfo<T> typeInfo)
    {
        var output = new MemoryStream();
        JsonSerializer.Serialize(output, value, typeInfo);
        output.Position = 0;
        return output;
    }
}
