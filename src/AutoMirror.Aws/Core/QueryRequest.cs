using System.Globalization;
using System.Text;

namespace AutoMirror.Aws;

/// <summary>A Query-protocol form body: Action, Version, then parameters in the order added.</summary>
internal sealed class QueryRequest
{
    private readonly List<KeyValuePair<string, string>> _parameters = [];

    public QueryRequest(AwsService service, string action)
    {
        Action = action;
        Add("Action", action);
        Add("Version", service.ApiVersion);
    }

    public string Action { get; }

    public QueryRequest Add(string name, string? value)
    {
        if (value is not null)
        {
            _parameters.Add(new(name, value));
        }

        return this;
    }

    public QueryRequest Add(string name, int? value) =>
        Add(name, value?.ToString(CultureInfo.InvariantCulture));

    public QueryRequest Add(string name, DateTimeOffset value) =>
        Add(name, value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));

    /// <summary>EC2's flattened list: Name.1, Name.2 …</summary>
    public QueryRequest AddFlatList(string name, IEnumerable<string> values)
    {
        var i = 0;
        foreach (var value in values)
        {
            Add($"{name}.{++i}", value);
        }

        return this;
    }

    /// <summary>The plain Query protocol's list: Name.member.1, Name.member.2 …</summary>
    public QueryRequest AddMemberList(string name, IEnumerable<string> values) => AddFlatList(name + ".member", values);

    public byte[] ToBody()
    {
        var body = new StringBuilder();
        foreach (var (name, value) in _parameters)
        {
            if (body.Length > 0)
            {
                body.Append('&');
            }

            body.Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(value));
        }

        return Encoding.UTF8.GetBytes(body.ToString());
    }
}
