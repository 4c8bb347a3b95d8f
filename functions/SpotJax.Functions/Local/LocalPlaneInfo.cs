using System.Diagnostics;
using System.Text.Json;

namespace SpotJax.Functions.Local;

/// <summary>
/// What a running local control plane (<c>spotjax local up</c>) tells the other commands, kept in
/// <c>plane.json</c> in its state folder: its process, its loopback address and the token its API
/// asks for. The file is readable by its owner only, so only that user can submit through the API.
/// </summary>
/// <param name="Pid">The process of the plane.</param>
/// <param name="Url">The loopback address of its status page and API, ending in <c>/</c>.</param>
/// <param name="Token">The bearer token of its API (publish, shut down).</param>
/// <param name="Project">The project name local mode uses in resource names.</param>
/// <param name="Bucket">The bucket name its bucket folder stands for.</param>
/// <param name="StartedAt">When it started.</param>
public sealed record LocalPlaneInfo(int Pid, Uri Url, string Token, string Project, string Bucket, DateTimeOffset StartedAt)
{
    public const string FileName = "plane.json";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>The plane's <c>plane.json</c> under <paramref name="stateDir"/>.</summary>
    public static string PathIn(string stateDir) => Path.Combine(stateDir, FileName);

    /// <summary>Writes the file atomically (owner read and write only).</summary>
    public async Task WriteAsync(string stateDir, CancellationToken cancellationToken)
    {
        var target = PathIn(stateDir);
        var temp = Path.Combine(stateDir, $".{FileName}.{Guid.NewGuid():N}");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        await using (var stream = new FileStream(temp, options))
        {
            await JsonSerializer.SerializeAsync(stream, this, Json, cancellationToken);
        }

        File.Move(temp, target, overwrite: true);
    }

    /// <summary>The plane described in <paramref name="stateDir"/>, or null when there is none or its process is gone.</summary>
    public static LocalPlaneInfo? ReadLive(string stateDir)
    {
        LocalPlaneInfo? info;
        try
        {
            info = JsonSerializer.Deserialize<LocalPlaneInfo>(File.ReadAllBytes(PathIn(stateDir)), Json);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }

        return info is not null && IsAlive(info.Pid) ? info : null;
    }

    /// <summary>Removes the file if it still describes this plane (a newer plane may have replaced it).</summary>
    public void Remove(string stateDir)
    {
        try
        {
            var current = JsonSerializer.Deserialize<LocalPlaneInfo>(File.ReadAllBytes(PathIn(stateDir)), Json);
            if (current?.Pid == Pid && current.Token == Token)
            {
                File.Delete(PathIn(stateDir));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            // Gone already, or not ours to remove.
        }
    }

    /// <summary>Whether the process is still running (a pid file outlives a plane that was killed).</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
