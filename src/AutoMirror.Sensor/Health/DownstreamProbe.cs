using System.Globalization;

namespace AutoMirror.Sensor.Health;

/// <summary>
/// Are the analysers that read the TAP (Zeek, Suricata, ...) alive? Checked through /proc: by process
/// name (/proc/PID/comm, which the kernel truncates to 15 characters) and/or by a pid file.
/// <paramref name="processNames"/> is a comma-separated list: every analyser named must run, because
/// each one sees every frame only while it sniffs the TAP, and the NLB should send only to a sensor
/// whose analysers all do.
/// </summary>
public sealed class DownstreamProbe(string processNames, string pidFile, string procRoot = "/proc")
{
    private readonly string[] _names = Names(processNames);

    public bool IsConfigured => _names.Length > 0 || pidFile.Length > 0;

    /// <summary>The process names of a Sensor:Health:DownstreamProcess value: comma-separated, blanks ignored.</summary>
    public static string[] Names(string processNames) =>
        processNames.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Null when every downstream is alive (or none is configured), otherwise why not.</summary>
    public string? Problem()
    {
        var problems = Problems();
        return problems.Count == 0 ? null : string.Join("; ", problems);
    }

    /// <summary>One line per downstream that is not alive: the pid file's, then each process name's, in order.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (pidFile.Length > 0 && PidFileProblem() is { } pid)
        {
            problems.Add(pid);
        }

        if (_names.Length > 0)
        {
            var running = RunningNames();
            foreach (var name in _names)
            {
                if (!running.Contains(Comm(name)))
                {
                    problems.Add("downstream process '" + name + "' is not running");
                }
            }
        }

        return problems;
    }

    private string? PidFileProblem()
    {
        string text;
        try
        {
            text = File.ReadAllText(pidFile).Trim();
        }
        catch (IOException)
        {
            return "downstream pid file " + pidFile + " is missing";
        }
        catch (UnauthorizedAccessException)
        {
            return "downstream pid file " + pidFile + " is not readable";
        }

        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || !IsAlive(pid.ToString(CultureInfo.InvariantCulture)))
        {
            return "downstream pid " + text + " from " + pidFile + " is not running";
        }

        return null;
    }

    /// <summary>What the kernel shows in /proc/PID/comm for a process of this name.</summary>
    private static string Comm(string name) => name.Length > 15 ? name[..15] : name;

    /// <summary>The comm of every live process whose comm is one of the names: one pass over /proc for all of them.</summary>
    private HashSet<string> RunningNames()
    {
        var wanted = new HashSet<string>(_names.Length, StringComparer.Ordinal);
        foreach (var name in _names)
        {
            wanted.Add(Comm(name));
        }

        var running = new HashSet<string>(StringComparer.Ordinal);
        foreach (var dir in Directory.EnumerateDirectories(procRoot))
        {
            string pid = Path.GetFileName(dir);
            if (pid.Length == 0 || !char.IsAsciiDigit(pid[0]))
            {
                continue;
            }

            try
            {
                string comm = File.ReadAllText(Path.Combine(dir, "comm")).TrimEnd('\n');
                if (wanted.Contains(comm) && !running.Contains(comm) && IsAlive(pid))
                {
                    running.Add(comm);
                    if (running.Count == wanted.Count)
                    {
                        break;
                    }
                }
            }
            catch (IOException)
            {
                // The process exited while we looked.
            }
        }

        return running;
    }

    /// <summary>A zombie (state Z) has exited; it only waits to be reaped.</summary>
    private bool IsAlive(string pid)
    {
        try
        {
            string stat = File.ReadAllText(Path.Combine(procRoot, pid, "stat"));
            int close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }
}
