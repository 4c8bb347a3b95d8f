using System.Text;

namespace SpotJax.Cli;

/// <summary>
/// One log object read line by line as the node agent uploads it. Each upload replaces the object
/// whole with what came before unchanged plus what is new, so the reader keeps the byte offset after
/// the last complete line it returned and reads on from there: no line twice, none skipped, and a
/// line cut by an upload (or a UTF-8 character cut by it) waits for the upload that ends it.
/// </summary>
/// <param name="name">The object name in the control bucket, or a file path for a file reader.</param>
/// <param name="readFrom">Reads the bytes of an object from an offset on; null when it does not exist.</param>
public sealed class LogStream(string name, Func<string, long, CancellationToken, Task<byte[]?>> readFrom)
{
    public string Name { get; } = name;

    /// <summary>Where the next read starts: just after the last line returned.</summary>
    public long Offset { get; private set; }

    /// <summary>Whether the log has existed at any read.</summary>
    public bool Seen { get; private set; }

    /// <summary>
    /// The complete lines written since the last read, each with its line end; with <paramref name="final"/>
    /// also a last line without one (the log will not grow any more). Null when the log does not exist.
    /// </summary>
    public async Task<byte[]?> ReadAsync(bool final, CancellationToken cancellationToken)
    {
        var bytes = await readFrom(Name, Offset, cancellationToken);
        if (bytes is null)
        {
            return null;
        }

        Seen = true;
        var end = final ? bytes.Length : Array.LastIndexOf(bytes, (byte)'\n') + 1;
        Offset += end;
        return end == bytes.Length ? bytes : bytes[..end];
    }

    /// <summary>The lines of what <see cref="ReadAsync"/> returned, without their line ends.</summary>
    public static IEnumerable<string> Lines(byte[] chunk)
    {
        if (chunk.Length == 0)
        {
            return [];
        }

        var text = Encoding.UTF8.GetString(chunk);
        return (text.EndsWith('\n') ? text[..^1] : text).Split('\n').Select(line => line.TrimEnd('\r'));
    }

    /// <summary>Reads a file from an offset on, as a log object is read from the bucket; null when it does not exist.</summary>
    public static async Task<byte[]?> ReadFileFromAsync(string path, long offset, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (stream.Length <= offset)
            {
                return [];
            }

            stream.Seek(offset, SeekOrigin.Begin);
            var buffer = new byte[stream.Length - offset];
            await stream.ReadExactlyAsync(buffer, cancellationToken);
            return buffer;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }
}
