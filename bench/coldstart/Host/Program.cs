using System.Diagnostics;
using System.Reflection;
using System.Runtime.ExceptionServices;
using System.Runtime.Loader;

// Usage (from bench/coldstart/run.py): dotnet exec --depsfile <task>/X.deps.json --runtimeconfig <task>/X.runtimeconfig.json
//   ColdStart.Host.dll <Assembly::Type::Method> <event.json>, with LAMBDA_TASK_ROOT=<task> and the function's environment.
// Prints the handler's answer as one line starting "answer: ", then "init_ms=<a> invoke_ms=<b>" on stderr (the wall time is measured outside).
if (args.Length != 2)
{
    await Console.Error.WriteLineAsync("usage: ColdStart.Host <Assembly::Type::Method> <event.json>");
    return 2;
}

var started = Stopwatch.GetTimestamp();
var taskRoot = Environment.GetEnvironmentVariable("LAMBDA_TASK_ROOT") ?? throw new InvalidOperationException("LAMBDA_TASK_ROOT is not set");
var parts = args[0].Split("::");
if (parts.Length != 3)
{
    await Console.Error.WriteLineAsync($"handler '{args[0]}' is not Assembly::Type::Method");
    return 2;
}

// Like the runtime's loader: the function's assemblies come from the task root into the default context (the deps
// file normally lists them already; the fallback covers what it does not).
AssemblyLoadContext.Default.Resolving += (context, name) =>
{
    var candidate = Path.Combine(taskRoot, name.Name + ".dll");
    return File.Exists(candidate) ? context.LoadFromAssemblyPath(candidate) : null;
};
var assembly = AssemblyLoadContext.Default.LoadFromAssemblyPath(Path.Combine(taskRoot, parts[0] + ".dll"));
var type = assembly.GetType(parts[1], throwOnError: true)!;
var method = type.GetMethod(parts[2], BindingFlags.Public | BindingFlags.Instance, [typeof(Stream)])
    ?? throw new InvalidOperationException($"no public {parts[2]}(Stream) on {type.FullName}");

object? handler;
try
{
    handler = Activator.CreateInstance(type);
}
catch (TargetInvocationException e) when (e.InnerException is not null)
{
    ExceptionDispatchInfo.Capture(e.InnerException).Throw();
    throw;
}

var initialized = Stopwatch.GetTimestamp();
await using var input = File.OpenRead(args[1]);
var output = await (Task<Stream>)method.Invoke(handler, [input])!;
using var reader = new StreamReader(output);
var answer = await reader.ReadToEndAsync();
var answered = Stopwatch.GetTimestamp();

// The handler logs JSON lines to stdout (as on Lambda, where stdout goes to the log group): the marker tells the
// answer apart.
Console.Out.WriteLine("answer: " + answer.ReplaceLineEndings(" "));
Console.Out.Flush();
await Console.Error.WriteLineAsync(FormattableString.Invariant(
    $"init_ms={Stopwatch.GetElapsedTime(started, initialized).TotalMilliseconds:0.0} invoke_ms={Stopwatch.GetElapsedTime(initialized, answered).TotalMilliseconds:0.0}"));
if (Environment.GetEnvironmentVariable("COLDSTART_LIST_ASSEMBLIES") == "1")
{
    // What the cold path touched, for comparing packages (run.py --list-assemblies).
    foreach (var loaded in AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetName().Name).Order(StringComparer.Ordinal))
    {
        await Console.Error.WriteLineAsync("loaded: " + loaded);
    }
}

return 0;
