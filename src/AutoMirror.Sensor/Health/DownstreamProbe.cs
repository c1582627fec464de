using System.Globalization;

namespace AutoMirror.Sensor.Health;

/// <summary>
/// Is the analyser that reads the TAP (Zeek, Suricata) alive? Checked through /proc: by process
/// name (/proc/PID/comm, which the kernel truncates to 15 characters) and/or by a pid file.
/// </summary>
public sealed class DownstreamProbe(string processName, string pidFile, string procRoot = "/proc")
{
    public bool IsConfigured => processName.Length > 0 || pidFile.Length > 0;

    /// <summary>Null when the downstream is alive (or none is configured), otherwise why not.</summary>
    public string? Problem()
    {
        if (pidFile.Length > 0)
        {
            string? problem = PidFileProblem();
            if (problem is not null)
            {
                return problem;
            }
        }

        if (processName.Length > 0 && !AnyProcessNamed())
        {
            return "downstream process '" + processName + "' is not running";
        }

        return null;
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

    private bool AnyProcessNamed()
    {
        string expected = processName.Length > 15 ? processName[..15] : processName;
        foreach (var dir in Directory.EnumerateDirectories(procRoot))
        {
            string pid = Path.GetFileName(dir);
            if (pid.Length == 0 || !char.IsAsciiDigit(pid[0]))
            {
                continue;
            }

            try
            {
                if (File.ReadAllText(Path.Combine(dir, "comm")).TrimEnd('\n') == expected && IsAlive(pid))
                {
                    return true;
                }
            }
            catch (IOException)
            {
                // The process exited while we looked.
            }
        }

        return false;
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
