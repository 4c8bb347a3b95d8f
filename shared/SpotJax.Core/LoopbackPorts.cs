using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace SpotJax.Core;

/// <summary>
/// Chooses loopback ports for a server that is told its port before it binds: another process
/// (sshd, an emulator, a functions host) or <see cref="HttpListener"/>, which cannot bind port 0.
/// </summary>
/// <remarks>
/// A port the kernel hands out for port 0 comes from the ephemeral range, the same range it gives
/// the local end of every outgoing connection, so in the moment between choosing it and the server
/// binding it, a connection made elsewhere in the machine can take it ("Address already in use").
/// Ports are therefore drawn at random from below that range, where no outgoing connection lands,
/// checked free by binding them, and never handed out twice by one process.
/// </remarks>
public static class LoopbackPorts
{
    private const int Lowest = 10_000;
    private const string EphemeralRangeFile = "/proc/sys/net/ipv4/ip_local_port_range";

    private static readonly Lock Gate = new();
    private static readonly HashSet<int> HandedOut = [];
    private static readonly (int Low, int High) Range = ChoosableRange();

    /// <summary>One port that is free now and was not handed out before by this process.</summary>
    public static int Choose() => Choose(1)[0];

    /// <summary><paramref name="count"/> different ports, each free now and not handed out before by this process.</summary>
    public static int[] Choose(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        lock (Gate)
        {
            var ports = new int[count];
            for (var i = 0; i < count; i++)
            {
                ports[i] = Next();
                HandedOut.Add(ports[i]);
            }

            return ports;
        }
    }

    private static int Next()
    {
        if (Range.High - Range.Low > 1000)
        {
            for (var tries = 0; tries < 200; tries++)
            {
                var port = Random.Shared.Next(Range.Low, Range.High + 1);
                if (!HandedOut.Contains(port) && IsFree(port))
                {
                    return port;
                }
            }
        }

        // No room outside the ephemeral range: let the kernel choose, as a last resort.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static bool IsFree(int port)
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The ports below the kernel's ephemeral range, or above it when there is more room there.</summary>
    private static (int Low, int High) ChoosableRange()
    {
        var (ephemeralLow, ephemeralHigh) = (32768, 60999);
        if (File.Exists(EphemeralRangeFile))
        {
            var fields = File.ReadAllText(EphemeralRangeFile).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 2
                && int.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var low)
                && int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var high))
            {
                (ephemeralLow, ephemeralHigh) = (low, high);
            }
        }

        var below = (Low: Lowest, High: ephemeralLow - 1);
        var above = (Low: ephemeralHigh + 1, High: 65535);
        return below.High - below.Low >= above.High - above.Low ? below : above;
    }
}
