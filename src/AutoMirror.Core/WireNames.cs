using System.Collections.Frozen;
using System.Reflection;
using System.Text.Json.Serialization;

namespace AutoMirror.Core;

/// <summary>
/// An enum member's name on the wire: its <see cref="JsonStringEnumMemberNameAttribute"/>, the one spelling the JSON
/// payloads, the tags and the log lines share (the ASL's Choice states and docs/contracts.md read them).
/// </summary>
public static class WireNames
{
    public static string ToWireName<T>(this T value)
        where T : struct, Enum =>
        Cache<T>.Names.TryGetValue(value, out var name) ? name : throw new ArgumentOutOfRangeException(nameof(value), value, null);

    private static class Cache<T>
        where T : struct, Enum
    {
        public static readonly FrozenDictionary<T, string> Names = Enum.GetValues<T>().ToFrozenDictionary(
            v => v,
            v => typeof(T).GetField(v.ToString(), BindingFlags.Public | BindingFlags.Static)!.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name
                ?? throw new InvalidOperationException($"{typeof(T).Name}.{v} has no wire name"));
    }
}
