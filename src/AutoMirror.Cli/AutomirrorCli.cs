using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using AutoMirror.Aws;
using AutoMirror.Cli.Output;
using AutoMirror.Cli.Reconcile;
using AutoMirror.Cli.Status;
using AutoMirror.Aws.Ec2;
using AutoMirror.Core;
using AutoMirror.Core.Composition;
using AutoMirror.Core.Configuration;
using AutoMirror.Core.Costs;
using AutoMirror.Core.Logging;
using AutoMirror.Core.Mirroring;
using AutoMirror.Core.Teardown;

namespace AutoMirror.Cli;

/// <summary>
/// `automirror`: status, reconcile and teardown for the people who run the labs, against real AWS (default
/// credential chain) or the local cloud (AWS_ENDPOINT_URL). Settings are the functions' own environment
/// variables; the three ids also have options. Results go to stdout (a table, or JSON with --json); errors and,
/// with --verbose, the decision log go to stderr.
/// </summary>
public sealed class AutomirrorCli(TextWriter output, TextWriter error, Func<string, string?> variables)
{

    private static readonly string[] CredentialErrors =
    [
        "AuthFailure", "UnrecognizedClientException", "InvalidClientTokenId", "SignatureDoesNotMatch",
        "ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId", "IncompleteSignature", "MissingAuthenticationToken",
    ];

    private readonly Option<bool> _json = new("--json") { Description = "Write JSON (stable keys) instead of a table", Recursive = true };
    private readonly Option<bool> _verbose = new("--verbose") { Description = "Write AutoMirror's decision log (JSON lines) to stderr", Recursive = true };
    private readonly Option<string> _targetId = new("--target-id") { Description = "Mirror target (tmt-…); default $MIRROR_TARGET_ID", Recursive = true };
    private readonly Option<string> _filterId = new("--filter-id") { Description = "Mirror filter (tmf-…); default $MIRROR_FILTER_ID", Recursive = true };
    private readonly Option<string> _targetGroup = new("--target-group-arn") { Description = "Sensor target group; default $SENSOR_TARGET_GROUP_ARN", Recursive = true };

    public static Task<int> Main(string[] args) =>
        new AutomirrorCli(Console.Out, Console.Error, Environment.GetEnvironmentVariable).RunAsync(args, CancellationToken.None);

    public RootCommand Build()
    {
        var root = new RootCommand(
            "AutoMirror operator commands: see and steer VPC Traffic Mirroring of tagged lab instances.\n"
            + "AWS: default credential chain, AWS_REGION, AWS_ENDPOINT_URL for a local cloud. Settings: the functions' "
            + "environment variables (MIRROR_TARGET_ID, MIRROR_FILTER_ID, LAB_TAG_KEY, IDLE_MINUTES, …).\n"
            + ExitCodes.HelpText);
        foreach (var option in new Option[] { _json, _verbose, _targetId, _filterId, _targetGroup })
        {
            root.Options.Add(option);
        }

        root.Subcommands.Add(StatusCommand());
        root.Subcommands.Add(ReconcileCommand());
        root.Subcommands.Add(TeardownCommand());
        return root;
    }

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var parsed = Build().Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var problem in parsed.Errors)
            {
                await error.WriteLineAsync("automirror: " + problem.Message);
            }

            await error.WriteLineAsync("Run 'automirror --help' for usage.");
            return ExitCodes.Usage;
        }

        return await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, cancellationToken);
    }

    private Command StatusCommand()
    {
        var lab = new Option<string>("--lab") { Description = "Only this lab's instances" };
        var targetKind = new Option<string>("--target-kind") { Description = "Price the estimate as this target kind (nlb, eni, gwlbe); default: the target's own" };
        targetKind.AcceptOnlyFromAmong("nlb", "eni", "gwlbe");
        var command = new Command("status", "Tagged instances, their AutoMirror sessions, status tag, sensor health, per-lab cost and idle verdict, hourly estimate")
        {
            lab,
            targetKind,
        };
        command.SetAction((parse, ct) => GuardAsync(parse, async (context, token) =>
        {
            var reader = new StatusReader(context.Clients.Ec2, context.Clients.LoadBalancing, context.Teardown, context.Settings);
            if (parse.GetValue(lab) is { } named && AwsInput.LabName("--lab", named) is { } badLab)
            {
                throw new ConfigurationException(badLab);
            }

            var report = await reader.ReadAsync(parse.GetValue(lab), token);
            var estimate = await new CostEstimateReader(context.Clients.Ec2, context.Settings).ReadAsync(report, MirrorCosts.ParseKind(parse.GetValue(targetKind)), token);
            report = report with { Estimate = estimate };
            if (parse.GetValue(_json))
            {
                await output.WriteLineAsync(JsonSerializer.Serialize(report, CliJsonContext.Default.StatusReport));
            }
            else
            {
                StatusTable.Write(report, output);
                EstimateTable.Write(estimate, output);
            }

            return parse.GetValue(lab) is not null && report.Instances.Count == 0 ? ExitCodes.NothingToDo : ExitCodes.Ok;
        }, ct));
        return command;
    }

    private Command ReconcileCommand()
    {
        var dryRun = new Option<bool>("--dry-run") { Description = "Plan only: show what would be created, deleted and tagged" };
        var instances = new Option<string[]>("--instance") { Description = "Only these instances (repeatable); default all tagged", AllowMultipleArgumentsPerToken = true };
        var command = new Command("reconcile", "Bring every tagged instance to its desired mirroring (the scheduled reconcile's code path)")
        {
            dryRun,
            instances,
        };
        command.SetAction((parse, ct) => GuardAsync(parse, async (context, token) =>
        {
            var isDryRun = parse.GetValue(dryRun);
            var ids = parse.GetValue(instances) is { Length: > 0 } given ? given : null;
            if (ids?.FirstOrDefault(id => !InstanceIds.IsInstanceId(id)) is { } bad)
            {
                throw new ConfigurationException(AwsInput.InstanceId("--instance", bad)!);
            }

            // One id for the whole run, as the scheduled reconcile has its event's: it goes into the status tags this run
            // writes, so `automirror status` shows which run wrote each.
            using var correlation = Correlation.Begin("cli-reconcile-" + Guid.NewGuid().ToString("N")[..12]);

            // A dry run composes the same services over an EC2 port that records the writes instead of making them.
            var dryRunEc2 = isDryRun ? new DryRunEc2Client(context.Clients.Ec2) : null;
            var reconciler = dryRunEc2 is not null ? context.Compose(dryRunEc2).Reconciler : context.Services.Reconciler;
            ReconcileReport report;
            var code = ExitCodes.Ok;
            try
            {
                report = await reconciler.ReconcileAsync(ids, ReconcileRequests.Concurrency, token);
            }
            catch (ReconcileFailedException e)
            {
                report = e.Report;
                code = ExitCodes.Failed;
                foreach (var failure in e.InnerExceptions)
                {
                    await error.WriteLineAsync("automirror: " + failure.Message);
                }
            }

            var changes = dryRunEc2?.Changes ?? [];
            if (parse.GetValue(_json))
            {
                await output.WriteLineAsync(JsonSerializer.Serialize(new ReconcileOutput(isDryRun, report, changes), CliJsonContext.Default.ReconcileOutput));
            }
            else
            {
                WriteReconcile(report, isDryRun, changes);
            }

            return code;
        }, ct));
        return command;
    }

    private Command TeardownCommand()
    {
        var lab = new Option<string>("--lab") { Description = "The lab (value of the lab tag)", Required = true };
        var action = new Option<string>("--action") { Description = "report | detach | stop | terminate; default $TEARDOWN_ACTION (report)" };
        action.AcceptOnlyFromAmong([.. TeardownActions.Names]);
        var dryRun = new Option<bool>("--dry-run") { Description = "Show what the action would do; change nothing" };
        var command = new Command("teardown", "Tear one lab down now, idle or not (the teardown workflow's steps; terminate needs both opt-ins)")
        {
            lab,
            action,
            dryRun,
        };
        command.SetAction((parse, ct) => GuardAsync(parse, async (context, token) =>
        {
            var settings = context.Teardown.Settings;
            var chosen = settings.Action;
            if (parse.GetValue(action) is { } name && !TeardownActions.TryParse(name, out chosen))
            {
                throw new ConfigurationException($"--action must be one of {string.Join(" | ", TeardownActions.Names)}");
            }

            if (AwsInput.LabName("--lab", parse.GetValue(lab)) is { } badLab)
            {
                throw new ConfigurationException(badLab);
            }

            var report = await context.Teardown.TeardownLabAsync(parse.GetValue(lab)!, chosen, parse.GetValue(dryRun), token);
            if (parse.GetValue(_json))
            {
                await output.WriteLineAsync(JsonSerializer.Serialize(report, CliJsonContext.Default.LabReport));
            }
            else
            {
                WriteTeardown(report);
            }

            return report.InstanceIds.Count == 0 && report.SessionIds.Count == 0 ? ExitCodes.NothingToDo : ExitCodes.Ok;
        }, ct));
        return command;
    }

    private sealed record Context(AutoMirrorSettings Settings, AwsClients Clients, IDecisionLog Log)
    {
        public AutoMirrorServices Services { get; } = new(Settings, Clients.Ec2, Clients.LoadBalancing, Clients.StepFunctions, TimeProvider.System, Log,
            cloudWatch: Clients.CloudWatch);

        public TeardownService Teardown => Services.Teardown;

        public AutoMirrorServices Compose(IEc2Client ec2) =>
            new(Settings, ec2, Clients.LoadBalancing, Clients.StepFunctions, TimeProvider.System, Log, cloudWatch: Clients.CloudWatch);
    }

    /// <summary>Builds AWS and settings, runs the command, and turns each kind of failure into its exit code and one clear line.</summary>
    private async Task<int> GuardAsync(ParseResult parse, Func<Context, CancellationToken, Task<int>> body, CancellationToken cancellationToken)
    {
        AwsClients? clients = null;
        try
        {
            // One process alone, like the scheduled reconcile: EC2's create rate, not a launch burst's shrinking share.
            clients = new AwsClients(AwsClientOptions.FromEnvironment(variables) with { AdaptiveCreateRate = false });
            var settings = AutoMirrorSettings.FromVariables(name => name switch
            {
                "MIRROR_TARGET_ID" => parse.GetValue(_targetId) ?? variables(name),
                "MIRROR_FILTER_ID" => parse.GetValue(_filterId) ?? variables(name),
                "SENSOR_TARGET_GROUP_ARN" => parse.GetValue(_targetGroup) ?? variables(name),
                _ => variables(name),
            });
            IDecisionLog log = parse.GetValue(_verbose) ? new JsonLinesDecisionLog(error, TimeProvider.System) : new SilentDecisionLog();
            return await body(new Context(settings, clients, log), cancellationToken);
        }
        catch (AwsConfigurationException e)
        {
            await error.WriteLineAsync("automirror: " + e.Message);
            return ExitCodes.NoCredentials;
        }
        catch (ConfigurationException e)
        {
            await error.WriteLineAsync($"automirror: {e.Message}. The ids are the stack's outputs (MirrorTargetId, MirrorFilterId); "
                + "set the variables or pass --target-id/--filter-id.");
            return ExitCodes.Usage;
        }
        catch (AwsServiceException e) when (CredentialErrors.Contains(e.ErrorCode))
        {
            await error.WriteLineAsync($"automirror: AWS rejected the credentials ({e.ErrorCode}): {e.ServiceMessage}");
            return ExitCodes.NoCredentials;
        }
        catch (AwsServiceException e)
        {
            await error.WriteLineAsync($"automirror: AWS error {e.ErrorCode}: {e.ServiceMessage}");
            return ExitCodes.Failed;
        }
        catch (HttpRequestException e)
        {
            await error.WriteLineAsync("automirror: cannot reach AWS: " + e.Message);
            return ExitCodes.Failed;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await error.WriteLineAsync("automirror: cancelled");
            return ExitCodes.Failed;
        }
        finally
        {
            clients?.Dispose();
        }
    }

    private void WriteReconcile(ReconcileReport report, bool dryRun, IReadOnlyList<PlannedChange> changes)
    {
        var table = new Table(("INSTANCE", 19), ("OUTCOME", 9), ("REASON", 26), ("SESSIONS", 38));
        foreach (var o in report.Outcomes)
        {
            table.Add(o.InstanceId, o.Outcome.ToWireName(), o.Reason, o.SessionIds.Count == 0 ? "-" : string.Join(" ", o.SessionIds));
        }

        if (table.Count > 0)
        {
            table.WriteTo(output);
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{report.Instances} instances: {report.Mirrored} mirrored, {report.Detached} detached, {report.Skipped} skipped, {report.Failed} failed."));
        if (dryRun)
        {
            output.WriteLine(changes.Count == 0 ? "Dry run: nothing would change." : $"Dry run: nothing was changed; {changes.Count} changes would be made:");
            if (changes.Count > 0)
            {
                var planned = new Table(("ACTION", 14), ("RESOURCE", 21), ("DETAIL", 60));
                foreach (var change in changes)
                {
                    planned.Add(change.Action, change.ResourceId, change.Detail);
                }

                planned.WriteTo(output);
            }
        }
    }

    private void WriteTeardown(LabReport report)
    {
        output.WriteLine($"Lab {report.Lab}: {report.Status}{(report.Idle ? " (idle)" : "")}");
        foreach (var reason in report.Reasons)
        {
            WriteWrapped("  ", reason);
        }

        var applied = report.Applied ? "applied" : report.Action == "report" ? "report only, nothing changed" : "dry run, nothing changed";
        output.WriteLine($"Action: {report.Action} (requested {report.RequestedAction}), {applied}");
        output.WriteLine(report.Applied
            ? $"Sessions deleted: {report.DeletedSessionIds.Count} of {report.SessionIds.Count}"
            : $"Sessions a real run would delete: {report.SessionIds.Count}");
        var listed = (report.Applied ? report.Deleted : report.WouldDelete) ?? [];
        if (listed.Count > 0)
        {
            var sessions = new Table(("SESSION", 21), ("INSTANCE", 19), ("INTERFACE", 21), ("LAB", 30));
            foreach (var line in listed)
            {
                sessions.Add(line.SessionId, line.InstanceId ?? "-", line.NetworkInterfaceId ?? "-", line.Lab ?? "-");
            }

            sessions.WriteTo(output);
        }
        if (report.StoppedInstanceIds.Count > 0)
        {
            WriteWrapped("Instances stopped: ", string.Join(", ", report.StoppedInstanceIds));
        }

        if (report.TerminatedInstanceIds.Count > 0)
        {
            WriteWrapped("Instances terminated: ", string.Join(", ", report.TerminatedInstanceIds));
        }

        if (report.ExcludedInstanceIds.Count > 0)
        {
            WriteWrapped("Instances excluded from mirroring: ", string.Join(", ", report.ExcludedInstanceIds));
        }

        foreach (var note in report.Notes)
        {
            WriteWrapped("Note: ", note);
        }

        output.WriteLine(report.Applied
            ? $"Hourly cost saved: {StatusTable.Money(report.HourlyCostSaved)}"
            : $"Hourly cost a real run would save: {StatusTable.Money(report.HourlyCostWouldSave ?? 0m)} (nothing saved: nothing was changed)");
    }

    /// <summary>Free text at word boundaries within 100 columns, continuation lines indented under the text.</summary>
    private void WriteWrapped(string label, string text)
    {
        const int width = 100;
        var indent = new string(' ', Math.Min(label.Length, 8));
        var line = new System.Text.StringBuilder(label);
        var empty = true;
        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!empty && line.Length + 1 + word.Length > width)
            {
                output.WriteLine(line.ToString());
                line.Clear().Append(indent);
                empty = true;
            }

            line.Append(empty ? "" : " ").Append(word);
            empty = false;
        }

        output.WriteLine(line.ToString());
    }

    private sealed class SilentDecisionLog : IDecisionLog
    {
        public void Write(Decision decision)
        {
        }
    }
}
