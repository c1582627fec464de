using System.Globalization;
using AutoMirror.Cli.Output;

namespace AutoMirror.Cli.Status;

/// <summary>The status for people: short tables that fit in 100 columns.</summary>
public static class StatusTable
{
    public static void Write(StatusReport report, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(output);

        var instances = new Table(("INSTANCE", 19), ("LAB", 12), ("STATE", 13), ("STATUS", 25), ("SESS", 4), ("OTHER", 5), ("$/HOUR", 8));
        foreach (var i in report.Instances)
        {
            instances.Add(i.InstanceId, i.Lab ?? "-", i.State, i.StatusTag ?? "-",
                i.Sessions.Count.ToString(CultureInfo.InvariantCulture), i.OtherSessions.ToString(CultureInfo.InvariantCulture), Money(i.HourlyCost));
        }

        if (instances.Count == 0)
        {
            output.WriteLine("No tagged instances.");
        }
        else
        {
            instances.WriteTo(output);
        }

        // Which run wrote each status: its correlation id is in every log line of that run (the functions' correlationId
        // key), so an operator goes from "why does it say this" to the decisions in one search.
        var written = report.Instances.Where(i => i.CorrelationId is not null).ToList();
        if (written.Count > 0)
        {
            output.WriteLine();
            var correlation = new Table(("INSTANCE", 19), ("STATUS WRITTEN BY (correlationId in the logs)", 78));
            foreach (var i in written)
            {
                correlation.Add(i.InstanceId, i.CorrelationId!);
            }

            correlation.WriteTo(output);
        }

        if (report.Labs.Count > 0)
        {
            output.WriteLine();
            var labs = new Table(("LAB", 20), ("INSTANCES", 9), ("SESSIONS", 8), ("$/HOUR", 8), ("TEARDOWN", 15), ("WHY", 30));
            foreach (var lab in report.Labs)
            {
                labs.Add(lab.Lab, lab.Instances.ToString(CultureInfo.InvariantCulture), lab.Sessions.ToString(CultureInfo.InvariantCulture),
                    Money(lab.HourlyCost), lab.Status, lab.Reasons.Count > 0 ? lab.Reasons[0] : "");
            }

            labs.WriteTo(output);
        }

        output.WriteLine();
        if (report.Sensor.TargetGroupArn is null)
        {
            output.WriteLine($"Sensor: target {report.Sensor.MirrorTargetId}; health unknown (set SENSOR_TARGET_GROUP_ARN or --target-group-arn).");
        }
        else
        {
            output.WriteLine($"Sensor: target {report.Sensor.MirrorTargetId}, {report.Sensor.HealthyTargets} of {report.Sensor.Targets.Count} targets healthy.");
            if (report.Sensor.Targets.Count > 0)
            {
                var targets = new Table(("TARGET", 19), ("PORT", 5), ("STATE", 11), ("REASON", 50));
                foreach (var t in report.Sensor.Targets)
                {
                    targets.Add(t.TargetId, t.Port?.ToString(CultureInfo.InvariantCulture) ?? "-", t.State, t.Reason ?? "");
                }

                targets.WriteTo(output);
            }
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Total: {report.Totals.Instances} instances, {report.Totals.Sessions} AutoMirror sessions, {Money(report.Totals.HourlyCost)}/hour."));
    }

    public static string Money(decimal amount) => "$" + amount.ToString("0.000", CultureInfo.InvariantCulture);
}
