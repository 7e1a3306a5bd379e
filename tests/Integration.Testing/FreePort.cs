using System.Net;
using System.Net.Sockets;

namespace Integration.Testing;

/// <summary>
/// Hands out loopback TCP ports for the servers the tests start (Kestrel hosts, redis-server, cluster nodes).
/// </summary>
/// <remarks>
/// The ports come from just below the kernel's ephemeral range, never from it: a port the kernel picks for
/// <c>bind(0)</c> is also one it may give, a moment later, to any outgoing connection as its local port, and a
/// test suite opens thousands of them — CI once failed with "address already in use" that way. Below the range
/// only servers bind, and this class checks each port is free when it hands it out. Each process starts at a
/// random place in the block so that test runs of several worktrees side by side rarely meet.
/// </remarks>
public static class FreePort
{
    private const int BlockSize = 12_000;
    private static readonly (int First, int Count) Block = ChooseBlock();
    private static int _next = Random.Shared.Next(Block.Count);

    /// <summary>A loopback TCP port outside the ephemeral range that nothing listened on a moment ago.</summary>
    public static int Next()
    {
        for (var attempt = 0; attempt < Block.Count; attempt++)
        {
            var port = Block.First + (int)((uint)Interlocked.Increment(ref _next) % (uint)Block.Count);
            if (IsFree(port))
            {
                return port;
            }
        }
        throw new InvalidOperationException($"no free loopback port in {Block.First}-{Block.First + Block.Count - 1}");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static (int First, int Count) ChooseBlock()
    {
        // Linux names its ephemeral range here ("32768\t60999" by default); elsewhere assume the same default.
        var ephemeralLow = 32_768;
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            ephemeralLow = int.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
        }
        var first = Math.Max(10_000, ephemeralLow - BlockSize);
        return ephemeralLow - first >= 1_000 ? (first, ephemeralLow - first) : (10_000, BlockSize);
    }
}
