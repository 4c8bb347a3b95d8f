using System.Security.Cryptography;
using System.Text;

namespace SpotJax.Core.Steps;

/// <summary>Deterministic request ids: the same step of the same attempt always sends the same UUID.</summary>
public static class RequestIds
{
    public static string For(string jobId, int attempt, string action)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{jobId}/{attempt}/{action}"));
        var bytes = hash.AsSpan(0, 16).ToArray();
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x50); // version 5 layout: name-based
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 4122 variant
        return new Guid(bytes, bigEndian: true).ToString();
    }
}
