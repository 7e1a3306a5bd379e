using System.Globalization;

namespace InboundBench.Infra;

/// <summary>Facts about this machine and its processes, read from /proc.</summary>
internal static class Machine
{
    /// <summary>A loopback port for a server the bench starts (the tests' picker, linked: see its remarks).</summary>
    public static int FreePort() => Integration.Testing.FreePort.Next();

    /// <summary>The repository root (the folder holding Integration.sln), found from the bench's own folder.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Integration.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("Integration.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Peak resident set (VmHWM) and current resident set (VmRSS) of a process, in MB; 0 if it is gone.</summary>
    public static (double PeakMb, double CurrentMb) Memory(int pid)
    {
        try
        {
            double peak = 0, current = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    peak = Kilobytes(line) / 1024.0;
                }
                else if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    current = Kilobytes(line) / 1024.0;
                }
            }
            return (peak, current);
        }
        catch (IOException)
        {
            return (0, 0);
        }
    }

    /// <summary>CPU time (user + system) a process has used so far, in seconds.</summary>
    public static double CpuSeconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the command name (which may contain spaces) start after the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // utime + stime, and cutime + cstime: the children it waited for (redis's AOF rewrites are forks).
            var ticks = fields[11..15].Sum(field => long.Parse(field, CultureInfo.InvariantCulture));
            return ticks / 100.0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>Busy and total CPU time of the whole machine so far, in clock ticks (/proc/stat).</summary>
    public static (long Busy, long Total) MachineCpu()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]
            .Select(field => long.Parse(field, CultureInfo.InvariantCulture)).ToArray();
        var idle = fields[3] + fields[4]; // idle, iowait
        var total = fields.Take(8).Sum(); // user … steal (guest time is already in user)
        return (total - idle, total);
    }

    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private static long Kilobytes(string line) =>
        long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
}
