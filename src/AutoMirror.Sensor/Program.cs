using AutoMirror.Sensor;
using AutoMirror.Sensor.Configuration;
using AutoMirror.Sensor.Health;
using AutoMirror.Sensor.Metrics;
using AutoMirror.Sensor.Receive;

// Short flags for the settings an operator changes by hand; every setting is also --Sensor:Key=value.
var switches = new Dictionary<string, string>
{
    ["--tap"] = "Sensor:Tap:Name",
    ["--tap-mtu"] = "Sensor:Tap:Mtu",
    ["--pcap-dir"] = "Sensor:Pcap:Directory",
    ["--vxlan-port"] = "Sensor:VxlanPort",
    ["--geneve-port"] = "Sensor:GenevePort",
    ["--health-port"] = "Sensor:Health:Port",
    ["--source-networks"] = "Sensor:SourceNetworks",
    ["--downstream-process"] = "Sensor:Health:DownstreamProcess",
    ["--workers"] = "Sensor:ReceiveWorkers",
    ["--af-xdp"] = "Sensor:AfXdp:Interface",
    ["--packet-ring"] = "Sensor:PacketRing:Interface",
    ["--receive"] = "Sensor:Receive",
    ["--receive-interface"] = "Sensor:ReceiveInterface",
};

var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
builder.Configuration.AddCommandLine(args, switches);
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ "; o.UseUtcTimestamp = true; });

SensorSettings settings;
try
{
    settings = SensorSettings.Load(builder.Configuration);
}
catch (SensorConfigurationException e)
{
    // Exit code 2 tells systemd (RestartPreventExitStatus=2) that restarting will not help.
    await Console.Error.WriteLineAsync("automirror-sensor: " + e.Message);
    return 2;
}

builder.WebHost.ConfigureKestrel(k => k.ListenAnyIP(settings.Options.Health.Port));
builder.Services.AddSingleton(settings);
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton<SensorEngine>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<SensorEngine>());
builder.Services.AddSingleton(new DownstreamProbe(settings.Options.Health.DownstreamProcess, settings.Options.Health.DownstreamPidFile));
builder.Services.AddSingleton<HealthEvaluator>();
builder.Services.AddSingleton(sp => new PrometheusExporter(sp.GetRequiredService<SensorEngine>(), settings.Options.MaxVnis));

var app = builder.Build();
var healthLog = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("AutoMirror.Sensor.Health");
var lastHealthy = true;

IResult Health(HealthEvaluator health)
{
    var problems = health.Problems();
    bool healthy = problems.Count == 0;
    // Log transitions only: the NLB polls every few seconds.
    if (healthy != lastHealthy)
    {
        if (healthy)
        {
            Log.Healthy(healthLog);
        }
        else
        {
            Log.Unhealthy(healthLog, string.Join("; ", problems));
        }

        lastHealthy = healthy;
    }

    return Results.Text(health.Json(problems), "application/json", statusCode: healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
}

app.MapGet("/health", Health);
app.MapGet("/", Health);
app.MapGet("/metrics", (PrometheusExporter exporter) => Results.Text(exporter.Render(), PrometheusExporter.ContentType));

// Taken now: once RunAsync has failed the host is disposed and its services cannot be resolved.
var stopping = app.Lifetime.ApplicationStopping;
try
{
    await app.RunAsync();
    return 0;
}
catch (IOException e)
{
    // TAP creation, socket bind: the message names the device or address that failed. The host has
    // logged it and disposed its logger factory by now, so say it on stderr (systemd's journal).
    await Console.Error.WriteLineAsync("automirror-sensor: start-up failed: " + e.Message);
    return 1;
}
catch (SensorConfigurationException e)
{
    // A setting only checkable against the machine (an AF_XDP interface that does not exist); the host has logged it too.
    await Console.Error.WriteLineAsync("automirror-sensor: " + e.Message);
    return 2;
}
catch (OperationCanceledException) when (stopping.IsCancellationRequested)
{
    // SIGTERM while the host was still starting (Kestrel binding the health port) cancels the start:
    // that is a stop like any other, not a crash; the host has disposed the engine (TAP, AF_XDP link).
    return 0;
}
