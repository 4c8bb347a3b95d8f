using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace SpotJax.Core.Tests;

public sealed class LoopbackPortsTests
{
    [Fact]
    public void Choose_ManyPorts_AllDifferentAndEachBindable()
    {
        var ports = LoopbackPorts.Choose(50).Concat(Enumerable.Range(0, 50).Select(_ => LoopbackPorts.Choose())).ToList();

        Assert.Equal(ports.Count, ports.Distinct().Count());
        foreach (var port in ports)
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
        }
    }

    [Fact]
    public void Choose_StaysOutOfTheEphemeralRangeOutgoingConnectionsUse()
    {
        var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Select(f => int.Parse(f, CultureInfo.InvariantCulture)).ToArray();

        var ports = LoopbackPorts.Choose(100);

        Assert.All(ports, port => Assert.False(port >= range[0] && port <= range[1], $"port {port} is inside the ephemeral range {range[0]}-{range[1]}"));
    }

    [Fact]
    public void Choose_ZeroPorts_IsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => LoopbackPorts.Choose(0));
    }
}
