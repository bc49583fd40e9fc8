using System.Globalization;

namespace Mds.Bench;

/// <summary>
/// CPU time (user + system) used so far by processes, from <c>/proc/{pid}/stat</c> (Linux; 0 elsewhere or for a process
/// that is gone). Used to say where an overhead is spent, not only how much throughput it costs.
/// </summary>
internal static class ProcessCpu
{
    // USER_HZ: the unit of utime and stime; 100 on every Linux build that matters.
    private const double TicksPerSecond = 100;

    public static TimeSpan Of(int pid)
    {
        string stat = $"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat";
        string text;
        try
        {
            text = File.ReadAllText(stat);
        }
        catch (IOException)
        {
            return TimeSpan.Zero;
        }
        catch (UnauthorizedAccessException)
        {
            return TimeSpan.Zero;
        }

        // Fields after the command name (which may contain spaces, inside parentheses): state is field 3, utime 14, stime 15.
        string[] fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        long ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / TicksPerSecond);
    }

    public static TimeSpan Of(IEnumerable<int> pids) => pids.Aggregate(TimeSpan.Zero, (sum, pid) => sum + Of(pid));
}
