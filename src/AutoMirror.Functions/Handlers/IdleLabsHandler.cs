using System.Text.Json;
using AutoMirror.Functions.Teardown;

namespace AutoMirror.Functions.Handlers;

/// <summary>
/// IdleLabsFunction (teardown schedule): assesses every lab, logs one line per lab and starts the teardown
/// workflow for each idle one. The scheduled event's content is not used: the time comes from the clock.
/// </summary>
public sealed class IdleLabsHandler
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly TeardownService _service;
    private readonly TeardownLog _log;

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

        return Serialize(result);
    }

    internal static MemoryStream Serialize<T>(T value)
    {
        var output = new MemoryStream();
        JsonSerializer.Serialize(output, value, Json);
        output.Position = 0;
        return output;
    }
}
