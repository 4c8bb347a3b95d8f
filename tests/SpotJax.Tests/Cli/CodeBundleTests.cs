using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Net.Sockets;
using SpotJax.Functions.Local;

namespace SpotJax.Tests.Cli;

/// <summary>What <c>spotjax submit</c> packs from a code folder.</summary>
public sealed class CodeBundleTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("spotjax-bundle-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private void Write(string relative, string text = "x")
    {
        var path = Path.Combine(folder, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    [Fact]
    public void Files_GitIgnoreVenvAndCaches_AreLeftOut()
    {
        Write(".gitignore", "# outputs\n*.log\n/data/\nwandb/\n!keep.log\nbuild\n");
        Write("train.py");
        Write("pkg/model.py");
        Write("pkg/.gitignore", "secret_*.json\n");
        Write("pkg/secret_key.json");
        Write("pkg/data/shard.txt");
        Write("data/big.bin");
        Write("run.log");
        Write("keep.log");
        Write("nested/wandb/run.txt");
        Write("build/out.o");
        Write("myenv/pyvenv.cfg");
        Write("myenv/lib/site.py");
        Write(".git/HEAD");
        Write("pkg/__pycache__/model.pyc");
        Write(".venv/bin/python");

        Assert.Equal(
            [".gitignore", "keep.log", "pkg/.gitignore", "pkg/data/shard.txt", "pkg/model.py", "train.py"],
            CodeBundle.Files(folder).Order(StringComparer.Ordinal));
    }

    private static IReadOnlyList<string> Entries(byte[] archive)
    {
        using var tar = new TarReader(new GZipStream(new MemoryStream(archive), CompressionMode.Decompress));
        var names = new List<string>();
        while (tar.GetNextEntry() is { } entry)
        {
            names.Add(entry.Name);
        }

        return names;
    }

    [Fact]
    public async Task PackAsync_FolderWithSocketAndFifo_LeavesThemOutAndSaysSo()
    {
        Write("train.py", "print('hi')\n");
        Write("empty.txt", "");
        var fifo = Path.Combine(folder, "pipe");
        using (var mkfifo = Process.Start("mkfifo", [fifo]))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(Path.Combine(folder, "server.sock")));

        var packed = await CodeBundle.PackAsync(folder, CancellationToken.None);

        Assert.Equal(["empty.txt", "train.py"], Entries(packed.Archive));
        Assert.Equal(["pipe", "server.sock"], packed.Special.Order(StringComparer.Ordinal));
        Assert.Equal((2, 12L), (packed.FileCount, packed.Bytes));
        var lines = packed.Describe().ToList();
        Assert.StartsWith($"packed {folder}: 2 files, 12 B (", lines[0], StringComparison.Ordinal);
        Assert.Equal("left out 2 that are not regular files (sockets, FIFOs, devices): pipe, server.sock", lines[1]);
    }

    [Fact]
    public async Task PackAsync_OverTheConfiguredLimit_RefusesNamingTheBiggestFoldersAndTheIgnoreFile()
    {
        Write("train.py", new string('x', 100));
        Write("data/shards/a.bin", new string('x', 3000));
        Write("data/b.bin", new string('x', 1000));
        Write("outputs/run.txt", new string('x', 500));

        var e = await Assert.ThrowsAsync<CodeBundleException>(() => CodeBundle.PackAsync(folder, new CodeBundleOptions { MaxBytes = 2048 }, CancellationToken.None));

        Assert.Contains("holds 4.5 KiB in 4 files, over the 2 KiB limit", e.Message, StringComparison.Ordinal);
        Assert.Contains("biggest folders: data/ 3.9 KiB, data/shards/ 2.9 KiB, outputs/ 500 B", e.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(folder, ".spotjaxignore"), e.Message, StringComparison.Ordinal);
        Assert.Contains("SPOTJAX_MAX_CODE_SIZE", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PackAsync_SpotJaxIgnoreLeavesOutTheBigFolder_FitsUnderTheLimit()
    {
        Write("train.py", new string('x', 100));
        Write("data/a.bin", new string('x', 3000));
        Write(".spotjaxignore", "data/\n");
        Write("pkg/.spotjaxignore", "*.ckpt\n!keep.ckpt\n");
        Write("pkg/model.ckpt");
        Write("pkg/keep.ckpt");

        var packed = await CodeBundle.PackAsync(folder, new CodeBundleOptions { MaxBytes = 2048 }, CancellationToken.None);

        Assert.Equal([".spotjaxignore", "pkg/.spotjaxignore", "pkg/keep.ckpt", "train.py"], Entries(packed.Archive));
    }

    [Fact]
    public async Task PackAsync_SymbolicLinks_KeepsThoseInsideAndLeavesOutThoseLeadingOut()
    {
        Write("train.py");
        Write("conf/base.yaml");
        File.CreateSymbolicLink(Path.Combine(folder, "config.yaml"), "conf/base.yaml");
        File.CreateSymbolicLink(Path.Combine(folder, "passwd"), "/etc/passwd");
        File.CreateSymbolicLink(Path.Combine(folder, "up"), "../elsewhere.txt");

        var packed = await CodeBundle.PackAsync(folder + "/", CancellationToken.None);

        Assert.Equal(["conf/base.yaml", "config.yaml", "train.py"], Entries(packed.Archive));
        Assert.Equal(["passwd", "up"], packed.OutsideLinks.Order(StringComparer.Ordinal));
        Assert.Contains("left out 2 symbolic links that lead out of the folder: passwd, up", packed.Describe(), StringComparer.Ordinal);
    }

    [Fact]
    public async Task PackAsync_OverTheLimitWithOnlyTopLevelFiles_SaysSoInsteadOfFolders()
    {
        Write("weights.bin", new string('x', 3000));

        var e = await Assert.ThrowsAsync<CodeBundleException>(() => CodeBundle.PackAsync(folder, new CodeBundleOptions { MaxBytes = 1000 }, CancellationToken.None));

        Assert.Contains("over the 1000 B limit; all of it in files at its top.", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("2048", 2048L)]
    [InlineData("1GiB", 1L << 30)]
    [InlineData("500MB", 500_000_000L)]
    [InlineData("1.5 k", 1536L)]
    public void From_SizeInOptionOrVariable_IsRead(string text, long bytes)
    {
        Assert.Equal(bytes, CodeBundleOptions.From(text, null, out var optionError).MaxBytes);
        Assert.Equal(bytes, CodeBundleOptions.From(null, text, out var variableError).MaxBytes);
        Assert.Null(optionError);
        Assert.Null(variableError);
    }

    [Fact]
    public void From_MalformedVariable_NamesItAndDefaultsToOneGiB()
    {
        var options = CodeBundleOptions.From(null, "lots", out var error);

        Assert.Equal(CodeBundleOptions.DefaultMaxBytes, options.MaxBytes);
        Assert.Equal("SPOTJAX_MAX_CODE_SIZE 'lots' is not a size; use bytes or a unit, for example 500MiB or 2GiB", error);
    }
}
