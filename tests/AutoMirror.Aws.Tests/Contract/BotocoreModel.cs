using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using AutoMirror.Aws.Tests.Support;

namespace AutoMirror.Aws.Tests.Contract;

/// <summary>
/// botocore's own model of a service (data/&lt;service&gt;/&lt;version&gt;/service-2.json[.gz] of the machine's Python),
/// and a validator that checks a captured request against an operation's input shape with the wire rules of the
/// protocol: EC2 query (queryName, else capitalised locationName; lists Name.N), plain query (locationName; lists
/// Name.member.N) and JSON 1.0 (member names as is). It checks names, required members, types, enums and ranges.
/// </summary>
public sealed class BotocoreModel
{
    private static readonly Lazy<string> DataDirectory = new(FindDataDirectory);

    private readonly JsonElement _shapes;
    private readonly JsonElement _operations;

    private BotocoreModel(JsonDocument document, string protocol)
    {
        var root = document.RootElement;
        _shapes = root.GetProperty("shapes");
        _operations = root.GetProperty("operations");
        var metadata = root.GetProperty("metadata");
        ApiVersion = metadata.GetProperty("apiVersion").GetString()!;
        SigningName = metadata.TryGetProperty("signingName", out var signing) ? signing.GetString()! : metadata.GetProperty("endpointPrefix").GetString()!;
        TargetPrefix = metadata.TryGetProperty("targetPrefix", out var prefix) ? prefix.GetString() : null;
        var protocols = metadata.TryGetProperty("protocols", out var list)
            ? list.EnumerateArray().Select(p => p.GetString()!).ToList()
            : [metadata.GetProperty("protocol").GetString()!];
        if (!protocols.Contains(protocol))
        {
            throw new InvalidOperationException($"botocore's model does not offer protocol {protocol} (it has {string.Join(", ", protocols)})");
        }

        Protocol = protocol;
    }

    public string ApiVersion { get; }

    public string SigningName { get; }

    public string? TargetPrefix { get; }

    /// <summary>"ec2", "query" or "json".</summary>
    public string Protocol { get; }

    public IEnumerable<string> OperationNames => _operations.EnumerateObject().Select(o => o.Name);

    public static BotocoreModel Load(string service, string version, string protocol)
    {
        var folder = Path.Combine(DataDirectory.Value, service, version);
        var plain = Path.Combine(folder, "service-2.json");
        using var stream = File.Exists(plain) ? File.OpenRead(plain) : (Stream)new GZipStream(File.OpenRead(plain + ".gz"), CompressionMode.Decompress);
        return new BotocoreModel(JsonDocument.Parse(stream), protocol);
    }

    public IReadOnlyList<string> Validate(CapturedRequest request)
    {
        var problems = new List<string>();
        if (request.Method != HttpMethod.Post)
        {
            problems.Add($"method {request.Method}, expected POST");
        }

        if (!request.Headers.TryGetValue("Authorization", out var authorization) || !authorization.Contains($"/{SigningName}/aws4_request", StringComparison.Ordinal))
        {
            problems.Add($"not signed with SigV4 for service '{SigningName}'");
        }

        if (Protocol == "json")
        {
            ValidateJson(request, problems);
        }
        else
        {
            ValidateQuery(request, problems);
        }

        return problems;
    }

    private void ValidateQuery(CapturedRequest request, List<string> problems)
    {
        if (!request.Headers.TryGetValue("Content-Type", out var contentType) || !contentType.StartsWith("application/x-www-form-urlencoded", StringComparison.Ordinal))
        {
            problems.Add("Content-Type is not application/x-www-form-urlencoded");
        }

        var form = request.Form;
        foreach (var duplicate in form.GroupBy(p => p.Key).Where(g => g.Count() > 1))
        {
            problems.Add($"parameter {duplicate.Key} sent {duplicate.Count()} times");
        }

        var action = form.FirstOrDefault(p => p.Key == "Action").Value;
        if (action is null || !_operations.TryGetProperty(action, out var operation))
        {
            problems.Add($"Action '{action}' is not an operation of this service");
            return;
        }

        if (form.FirstOrDefault(p => p.Key == "Version").Value != ApiVersion)
        {
            problems.Add($"Version is not {ApiVersion}");
        }

        var parameters = form.Where(p => p.Key is not "Action" and not "Version").ToList();
        if (!operation.TryGetProperty("input", out var input))
        {
            problems.AddRange(parameters.Select(p => $"{action} takes no input, got {p.Key}"));
            return;
        }

        var inputShape = input.GetProperty("shape").GetString()!;
        var structures = new Dictionary<string, string> { [""] = inputShape };
        var lists = new Dictionary<string, List<int>>();
        foreach (var (key, value) in parameters)
        {
            ResolveQuery(inputShape, key.Split('.'), 0, "", value, structures, lists, problems);
        }

        var keys = parameters.Select(p => p.Key).ToList();
        foreach (var (path, shapeName) in structures)
        {
            foreach (var required in Required(shapeName))
            {
                var name = QueryName(Shape(shapeName).GetProperty("members").GetProperty(required), required);
                var full = path.Length == 0 ? name : $"{path}.{name}";
                if (!keys.Any(k => k == full || k.StartsWith(full + ".", StringComparison.Ordinal)))
                {
                    problems.Add($"{action}: required member {full} ({required}) is missing");
                }
            }
        }

        foreach (var (path, indices) in lists)
        {
            var distinct = indices.Distinct().Order().ToList();
            if (!distinct.SequenceEqual(Enumerable.Range(1, distinct.Count)))
            {
                problems.Add($"{action}: list {path} has indices {string.Join(",", distinct)}, expected 1..{distinct.Count}");
            }
        }
    }

    private void ResolveQuery(
        string shapeName, string[] segments, int i, string path, string value,
        Dictionary<string, string> structures, Dictionary<string, List<int>> lists, List<string> problems)
    {
        var shape = Shape(shapeName);
        var type = shape.GetProperty("type").GetString();
        var key = string.Join('.', segments);
        switch (type)
        {
            case "structure":
            {
                structures.TryAdd(path, shapeName);
                if (i >= segments.Length)
                {
                    problems.Add($"{key}: a structure needs a member name");
                    return;
                }

                var members = shape.GetProperty("members").EnumerateObject()
                    .Select(m => (Wire: QueryName(m.Value, m.Name), Member: m))
                    .ToList();
                var match = members.Where(m => m.Wire == segments[i]).Select(m => (JsonProperty?)m.Member).FirstOrDefault();
                if (match is not { } member)
                {
                    problems.Add($"{key}: '{segments[i]}' is not a member of {shapeName} (members: {string.Join(", ", members.Select(m => m.Wire))})");
                    return;
                }

                var memberPath = path.Length == 0 ? segments[i] : $"{path}.{segments[i]}";
                ResolveQuery(member.Value.GetProperty("shape").GetString()!, segments, i + 1, memberPath, value, structures, lists, problems);
                return;
            }

            case "list":
            {
                var memberRef = shape.GetProperty("member");
                var flattened = Protocol == "ec2" || (shape.TryGetProperty("flattened", out var flat) && flat.GetBoolean());
                var listPath = path;
                if (!flattened)
                {
                    var wrapper = memberRef.TryGetProperty("locationName", out var ln) ? ln.GetString()! : "member";
                    if (i >= segments.Length || segments[i] != wrapper)
                    {
                        problems.Add($"{key}: list {path} must be written {path}.{wrapper}.N");
                        return;
                    }

                    i++;
                    listPath = $"{path}.{wrapper}";
                }

                if (i >= segments.Length || !int.TryParse(segments[i], NumberStyles.None, CultureInfo.InvariantCulture, out var index) || index < 1)
                {
                    problems.Add($"{key}: list {path} needs a 1-based index after {listPath}");
                    return;
                }

                if (!lists.TryGetValue(listPath, out var indices))
                {
                    lists[listPath] = indices = [];
                }

                indices.Add(index);
                ResolveQuery(memberRef.GetProperty("shape").GetString()!, segments, i + 1, $"{listPath}.{index}", value, structures, lists, problems);
                return;
            }

            case "map":
                problems.Add($"{key}: maps are not used by AutoMirror and not checked");
                return;

            default:
                if (i != segments.Length)
                {
                    problems.Add($"{key}: {path} is a {type}, it has no member '{segments[i]}'");
                    return;
                }

                CheckScalar(key, shapeName, shape, type!, value, problems);
                return;
        }
    }

    private void ValidateJson(CapturedRequest request, List<string> problems)
    {
        var operationName = request.Operation;
        if (!request.Headers.TryGetValue("X-Amz-Target", out var target) || operationName is null || target != $"{TargetPrefix}.{operationName}")
        {
            problems.Add($"X-Amz-Target '{target}' is not {TargetPrefix}.<Operation>");
            return;
        }

        if (!_operations.TryGetProperty(operationName, out var operation))
        {
            problems.Add($"'{operationName}' is not an operation of this service");
            return;
        }

        if (!request.Headers.TryGetValue("Content-Type", out var contentType) || contentType != "application/x-amz-json-1.0")
        {
            problems.Add($"Content-Type '{contentType}' is not application/x-amz-json-1.0");
        }

        using var body = JsonDocument.Parse(request.Body);
        CheckJson(operation.GetProperty("input").GetProperty("shape").GetString()!, body.RootElement, "$", problems);
    }

    private void CheckJson(string shapeName, JsonElement value, string path, List<string> problems)
    {
        var shape = Shape(shapeName);
        var type = shape.GetProperty("type").GetString()!;
        switch (type)
        {
            case "structure":
                if (value.ValueKind != JsonValueKind.Object)
                {
                    problems.Add($"{path}: expected an object for {shapeName}");
                    return;
                }

                var members = shape.GetProperty("members");
                foreach (var property in value.EnumerateObject())
                {
                    if (!members.TryGetProperty(property.Name, out var member))
                    {
                        problems.Add($"{path}: '{property.Name}' is not a member of {shapeName} (members: {string.Join(", ", members.EnumerateObject().Select(m => m.Name))})");
                        continue;
                    }

                    CheckJson(member.GetProperty("shape").GetString()!, property.Value, $"{path}.{property.Name}", problems);
                }

                foreach (var required in Required(shapeName).Where(r => !value.TryGetProperty(r, out _)))
                {
                    problems.Add($"{path}: required member '{required}' is missing");
                }

                return;

            case "list":
                if (value.ValueKind != JsonValueKind.Array)
                {
                    problems.Add($"{path}: expected an array");
                    return;
                }

                var index = 0;
                foreach (var item in value.EnumerateArray())
                {
                    CheckJson(shape.GetProperty("member").GetProperty("shape").GetString()!, item, $"{path}[{index++}]", problems);
                }

                return;

            case "map":
                if (value.ValueKind != JsonValueKind.Object)
                {
                    problems.Add($"{path}: expected an object (map)");
                }

                return;

            case "string":
                if (value.ValueKind != JsonValueKind.String)
                {
                    problems.Add($"{path}: expected a string");
                    return;
                }

                CheckScalar(path, shapeName, shape, type, value.GetString()!, problems);
                return;

            case "boolean":
                if (value.ValueKind is not JsonValueKind.True and not JsonValueKind.False)
                {
                    problems.Add($"{path}: expected a boolean");
                }

                return;

            default:
                if (value.ValueKind != JsonValueKind.Number)
                {
                    problems.Add($"{path}: expected a number for {type}");
                    return;
                }

                CheckScalar(path, shapeName, shape, type, value.GetRawText(), problems);
                return;
        }
    }

    private void CheckScalar(string key, string shapeName, JsonElement shape, string type, string value, List<string> problems)
    {
        switch (type)
        {
            case "string":
                if (shape.TryGetProperty("enum", out var allowed) && allowed.EnumerateArray().All(e => e.GetString() != value))
                {
                    problems.Add($"{key}: '{value}' is not one of {shapeName}'s values");
                }

                if (shape.TryGetProperty("min", out var minLength) && value.Length < minLength.GetInt64())
                {
                    problems.Add($"{key}: '{value}' is shorter than {minLength.GetInt64()}");
                }

                if (shape.TryGetProperty("max", out var maxLength) && value.Length > maxLength.GetInt64())
                {
                    problems.Add($"{key}: longer than {maxLength.GetInt64()}");
                }

                return;

            case "integer" or "long":
                if (!long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
                {
                    problems.Add($"{key}: '{value}' is not an {type}");
                    return;
                }

                if (type == "integer" && number is < int.MinValue or > int.MaxValue)
                {
                    problems.Add($"{key}: {number} does not fit an integer");
                }

                if (shape.TryGetProperty("min", out var min) && number < min.GetInt64())
                {
                    problems.Add($"{key}: {number} is below {shapeName}'s minimum {min.GetInt64()}");
                }

                if (shape.TryGetProperty("max", out var max) && number > max.GetInt64())
                {
                    problems.Add($"{key}: {number} is above {shapeName}'s maximum {max.GetInt64()}");
                }

                return;

            case "boolean":
                if (value is not "true" and not "false")
                {
                    problems.Add($"{key}: '{value}' is not true or false");
                }

                return;

            case "double" or "float":
                if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
                {
                    problems.Add($"{key}: '{value}' is not a number");
                }

                return;

            case "timestamp":
                var valid = Protocol == "json"
                    ? double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _)
                    : DateTimeOffset.TryParseExact(value, ["yyyy-MM-dd'T'HH:mm:ss'Z'", "yyyy-MM-dd'T'HH:mm:ss.FFFFFF'Z'"], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out _);
                if (!valid)
                {
                    problems.Add($"{key}: '{value}' is not an ISO 8601 UTC timestamp");
                }

                return;

            default:
                problems.Add($"{key}: type {type} is not used by AutoMirror and not checked");
                return;
        }
    }

    /// <summary>The wire name of a member: EC2 uses queryName, else the capitalised locationName; Query uses locationName.</summary>
    private string QueryName(JsonElement memberRef, string memberName)
    {
        if (Protocol == "ec2")
        {
            if (memberRef.TryGetProperty("queryName", out var queryName))
            {
                return queryName.GetString()!;
            }

            if (memberRef.TryGetProperty("locationName", out var location))
            {
                var name = location.GetString()!;
                return char.ToUpperInvariant(name[0]) + name[1..];
            }

            return memberName;
        }

        return memberRef.TryGetProperty("locationName", out var queryLocation) ? queryLocation.GetString()! : memberName;
    }

    private IEnumerable<string> Required(string shapeName) =>
        Shape(shapeName).TryGetProperty("required", out var required) ? required.EnumerateArray().Select(r => r.GetString()!) : [];

    private JsonElement Shape(string name) => _shapes.GetProperty(name);

    private static string FindDataDirectory()
    {
        var start = new ProcessStartInfo("python3", ["-c", "import botocore, os; print(os.path.dirname(botocore.__file__))"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");
        var output = process.StandardOutput.ReadToEnd().Trim();
        var errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0 || output.Length == 0)
        {
            throw new InvalidOperationException("botocore is not importable by python3: " + errors);
        }

        return Path.Combine(output, "data");
    }
}
