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
}
