using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.ExceptionServices;
using System.Runtime.Loader;

namespace AutoMirror.LocalLambda;

/// <summary>
/// Runs a handler the way the managed .NET runtime does: <c>Assembly::Type::Method</c>, one instance per function
/// (a warm container) built with its public parameterless constructor, the payload passed as a Stream, a Stream
/// or Task&lt;Stream&gt; back. The function's environment is applied before its constructor runs, because the
/// handlers read their configuration there, once.
/// </summary>
public sealed class HandlerInvoker(string? assemblyDirectory, IReadOnlyDictionary<string, string> environmentOverrides)
{
    private static readonly Lock EnvironmentGate = new();
    private readonly ConcurrentDictionary<string, Lazy<Func<Stream, Task<Stream>>>> _loaded = new(StringComparer.Ordinal);

    public async Task<Stream> InvokeAsync(FunctionDefinition function, Stream payload)
    {
        ArgumentNullException.ThrowIfNull(function);
        var entry = _loaded.GetOrAdd(function.LogicalId, _ => new Lazy<Func<Stream, Task<Stream>>>(() => Load(function)));
        Func<Stream, Task<Stream>> handler;
        try
        {
            handler = entry.Value;
        }
        catch (Exception)
        {
            // A failed init is retried on the next invoke, as Lambda starts a fresh container after an init error.
            _loaded.TryRemove(function.LogicalId, out _);
            throw;
        }

        return await handler(payload).ConfigureAwait(false);
    }

    private Func<Stream, Task<Stream>> Load(FunctionDefinition function)
    {
        var parts = function.Handler.Split("::");
        if (parts.Length != 3 || parts.Any(string.IsNullOrWhiteSpace))
        {
            throw new InvalidOperationException($"{function.LogicalId}: handler '{function.Handler}' is not Assembly::Type::Method");
        }

        var assembly = LoadAssembly(parts[0]);
        var type = assembly.GetType(parts[1], throwOnError: false)
            ?? throw new InvalidOperationException($"{function.LogicalId}: type {parts[1]} not found in {assembly.GetName().Name}");
        var method = type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static)
            .SingleOrDefault(m => m.Name == parts[2] && m.GetParameters() is [{ ParameterType: var p }] && p == typeof(Stream))
            ?? throw new InvalidOperationException($"{function.LogicalId}: no public {parts[2]}(Stream) on {type.FullName}");

        object? target = null;
        lock (EnvironmentGate)
        {
            foreach (var (name, value) in function.Environment)
            {
                Environment.SetEnvironmentVariable(name, value.Length == 0 ? null : value);
            }

            foreach (var (name, value) in environmentOverrides)
            {
                Environment.SetEnvironmentVariable(name, value.Length == 0 ? null : value);
            }

            if (!method.IsStatic)
            {
                target = Unwrap(() => Activator.CreateInstance(type));
            }
        }

        return async input =>
        {
            var result = Unwrap(() => method.Invoke(target, [input]));
            return result switch
            {
                Task<Stream> task => await task.ConfigureAwait(false),
                Stream stream => stream,
                null => new MemoryStream(),
                _ => throw new InvalidOperationException($"{function.LogicalId}: {method.Name} returned {result.GetType().Name}, expected Stream or Task<Stream>"),
            };
        };
    }

    private Assembly LoadAssembly(string name)
    {
        if (assemblyDirectory is not null)
        {
            var path = Path.GetFullPath(Path.Combine(assemblyDirectory, name + ".dll"));
            if (File.Exists(path))
            {
                var context = new AssemblyLoadContext("function:" + name);
                context.Resolving += (ctx, dependency) =>
                {
                    var candidate = Path.Combine(assemblyDirectory, dependency.Name + ".dll");
                    return File.Exists(candidate) ? ctx.LoadFromAssemblyPath(Path.GetFullPath(candidate)) : null;
                };
                return context.LoadFromAssemblyPath(path);
            }
        }

        return Assembly.Load(new AssemblyName(name));
    }

    /// <summary>Reflection wraps what the handler threw; the caller must see the handler's own exception.</summary>
    private static T Unwrap<T>(Func<T> call)
    {
        try
        {
            return call();
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }
}
