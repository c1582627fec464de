using AutoMirror.LocalLambda;

// automirror-locallambda --port 9001 [--template template.yaml] [--function Name=Assembly::Type::Method]...
//                        [--env NAME=VALUE]... [--assembly-dir DIR]
try
{
    var options = CommandLine.Parse(args);
    await using var server = await LocalLambdaServer.StartAsync(options).ConfigureAwait(false);
    Console.WriteLine($"automirror-locallambda ready {server.Address.ToString().TrimEnd('/')} functions={string.Join(",", options.Functions.Keys.Order(StringComparer.Ordinal))}");
    using var stop = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        stop.Cancel();
    };
    AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();
    try
    {
        await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
    }
    catch (OperationCanceledException)
    {
    }

    return 0;
}
catch (CommandLineException e)
{
    await Console.Error.WriteLineAsync("automirror-locallambda: " + e.Message).ConfigureAwait(false);
    return 2;
}
