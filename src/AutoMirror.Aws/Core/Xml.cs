using System.Globalization;
using System.Xml;
using System.Xml.Linq;

namespace AutoMirror.Aws;

/// <summary>Namespace-agnostic reading of AWS XML answers (EC2 and Query services use different namespaces per version).</summary>
internal static class Xml
{
    public static XElement? Child(this XElement? element, string name) =>
        element?.Elements().FirstOrDefault(e => e.Name.LocalName == name);

    /// <summary>A child's text; an absent or empty element is null (an empty nextToken must end pagination, not repeat it).</summary>
    public static string? Text(this XElement? element, string name) =>
        element.Child(name)?.Value is { Length: > 0 } text ? text : null;

    /// <summary>Parses a 2xx answer; one that is not XML is a service fault worth naming, not a bare XmlException.</summary>
    public static XElement ParseAnswer(string answer, string action)
    {
        try
        {
            return XElement.Parse(answer);
        }
        catch (XmlException e)
        {
            throw new FormatException($"{action} answered with a body that is not XML: {e.Message}", e);
        }
    }

    /// <summary>Fails when a service hands back the token it was given: following it would loop forever.</summary>
    public static string? NextToken(string? previous, string? next, string action) =>
        next is not null && next == previous
            ? throw new FormatException($"{action} returned the same pagination token twice ('{next}')")
            : next;

    public static string Required(this XElement element, string name) =>
        element.Text(name) ?? throw new FormatException($"AWS answer has no <{name}> in <{element.Name.LocalName}>");

    public static int? Int(this XElement? element, string name) =>
        element.Text(name) is { } text ? int.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture) : null;

    public static bool Bool(this XElement? element, string name) =>
        string.Equals(element.Text(name), "true", StringComparison.OrdinalIgnoreCase);

    public static DateTimeOffset? Time(this XElement? element, string name) =>
        element.Text(name) is { } text ? DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal) : null;

    /// <summary>The entries of a list element: EC2 wraps them in &lt;item&gt;, Query services in &lt;member&gt;.</summary>
    public static IEnumerable<XElement> Items(this XElement? element, string listName) =>
        element.Child(listName)?.Elements().Where(e => e.Name.LocalName is "item" or "member") ?? [];

    /// <summary>EC2's tagSet / ELB's Tags as a dictionary.</summary>
    public static IReadOnlyDictionary<string, string> Tags(this XElement? element, string listName)
    {
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in element.Items(listName))
        {
            if ((item.Text("key") ?? item.Text("Key")) is { } key)
            {
                tags[key] = item.Text("value") ?? item.Text("Value") ?? string.Empty;
            }
        }

        return tags;
    }
}
