using System.Text.Json.Nodes;

namespace AutoMirror.Template.Tests.Model;

/// <summary>Walks an ASL definition, Map item processors included.</summary>
public static class Asl
{
    public static IEnumerable<(string Name, JsonObject State)> States(JsonObject definition)
    {
        foreach (var (name, node) in definition["States"]!.AsObject())
        {
            var state = node!.AsObject();
            yield return (name, state);
            var processor = state["ItemProcessor"] ?? state["Iterator"];
            if (processor is JsonObject inner)
            {
                foreach (var nested in States(inner))
                {
                    yield return nested;
                }
            }

            foreach (var branch in state["Branches"]?.AsArray() ?? [])
            {
                foreach (var nested in States(branch!.AsObject()))
                {
                    yield return nested;
                }
            }
        }
    }

    public static IEnumerable<(string Name, JsonObject State)> Tasks(JsonObject definition) =>
        States(definition).Where(s => (string?)s.State["Type"] == "Task");

    public static IEnumerable<string> ErrorEquals(JsonObject definition) =>
        States(definition).SelectMany(s =>
            (s.State["Retry"]?.AsArray() ?? []).Concat(s.State["Catch"]?.AsArray() ?? [])
            .SelectMany(r => r!["ErrorEquals"]!.AsArray().Select(e => (string)e!)));
}
