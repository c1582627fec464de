using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using AutoMirror.Core.Mirroring;

namespace AutoMirror.Functions.Handlers;

/// <summary>Stream in, record; record, stream out. The managed runtime hands us the raw payload and takes ours back.</summary>
internal static class HandlerIo
{
    public static async Task<byte[]> ReadAsync(Stream input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var buffer = new MemoryStream();
        await input.CopyToAsync(buffer).ConfigureAwait(false);
        return buffer.ToArray();
    }

    /// <summary>Deserializes a workflow payload; anything unusable is an <see cref="InvalidPayloadException"/> naming the type.</summary>
    public static T Read<T>(byte[] payload, JsonTypeInfo<T> typeInfo)
    {
        try
        {
            return JsonSerializer.Deserialize(payload, typeInfo)
                ?? throw new InvalidPayloadException($"the payload is null, expected a {typeof(T).Name} object");
        }
        catch (JsonException e)
        {
            throw new InvalidPayloadException($"the payload is not a valid {typeof(T).Name}: {e.Message}");
        }
    }

    public static Stream Write<T>(T value, JsonTypeInfo<T> typeInfo) =>
        new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(value, typeInfo), writable: false);
}
