using System.Text;
using System.Text.RegularExpressions;
using SpotJax.Contracts;

namespace SpotJax.Tests.Deploy;

/// <summary>
/// The commands a README shows, run the way its reader runs them: its code blocks and its inline
/// commands, in order, in one bash shell started in a copy of the repository, with an empty home
/// folder. <c>gcloud</c> is the real one in a <see cref="GcloudSandbox"/>; <c>spotjax</c> and
/// <c>terraform</c> only record their arguments (their own tests check them). Every call is recorded
/// with its arguments as bash expanded them, its exit code and its error output.
/// </summary>
internal static partial class ReadmeCommands
{
    /// <summary>What an inline span must begin with to be a command (`gcloud auth login`) rather than a name or a value.</summary>
    private const string InlineCommands = "gcloud|spotjax|terraform|ssh-keygen|mkdir";

    /// <summary>
    /// How often a command of one shape (the same words, the same flags, other values) runs for real:
    /// a README loop over 14 roles is checked on its first iterations, not 14 times at seconds each.
    /// </summary>
    private const int RunsPerShape = 2;

    /// <summary>The variables a reader has set before: the main README's step 1, with fake values.</summary>
    private static readonly Dictionary<string, string> Names = new()
    {
        ["PROJECT_ID"] = GcloudSandbox.Project,
        ["REGION"] = "us-central1",
        ["BUCKET"] = $"{GcloudSandbox.Project}-spotjax",
        ["TF_STATE_BUCKET"] = $"{GcloudSandbox.Project}-spotjax-tfstate",
        ["DEPLOYER"] = $"spotjax-deployer@{GcloudSandbox.Project}.iam.gserviceaccount.com",
        ["NAME_PREFIX"] = "spotjax",
    };

    /// <summary>The exit code recorded for a call not run because <see cref="RunsPerShape"/> of its shape ran already.</summary>
    public const int Repeat = -1;

    public sealed record Call(string Tool, IReadOnlyList<string> Arguments, int ExitCode, string Stderr)
    {
        public override string ToString() => $"{Tool} {string.Join(' ', Arguments)} (exit {ExitCode}): {Stderr.Trim()}";
    }

    /// <summary>The part of a document that is checked: the main README's deploy section, other documents whole.</summary>
    public static string Part(string document)
    {
        var text = File.ReadAllText(Path.Combine(Repository.Root, document)).ReplaceLineEndings("\n");
        if (document != "README.md")
        {
            return text;
        }

        var start = text.IndexOf("\n## Deploy to Google Cloud\n", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no \"Deploy to Google Cloud\" section");
        var end = text.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        return text[start..(end < 0 ? text.Length : end)];
    }

    /// <summary>The shell text of a document part: its code blocks and the inline commands of its prose, in order.</summary>
    public static string Script(string markdown)
    {
        var pieces = new List<(int Line, string Text)>();
        var lines = markdown.Split('\n');
        var prose = new List<(int Line, string Text)>();
        var i = 0;
        while (i < lines.Length)
        {
            if (lines[i].TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                var fence = i++;
                var body = new List<string>();
                while (i < lines.Length && !lines[i].TrimStart().StartsWith("```", StringComparison.Ordinal))
                {
                    body.Add(lines[i++]);
                }

                i++;
                pieces.Add((fence, Dedent(body)));
                continue;
            }

            // An indented block: four spaces or more after a blank line (six inside a list item).
            if (Indent(lines[i]) >= 4 && lines[i].Trim().Length > 0 && (i == 0 || lines[i - 1].Trim().Length == 0))
            {
                var first = i;
                var body = new List<string>();
                while (i < lines.Length && (Indent(lines[i]) >= 4 || (lines[i].Trim().Length == 0 && i + 1 < lines.Length && Indent(lines[i + 1]) >= 4)))
                {
                    body.Add(lines[i++]);
                }

                pieces.Add((first, Dedent(body)));
                continue;
            }

            prose.Add((i, lines[i]));
            i++;
        }

        // An inline span that only begins a command shown in full (`gcloud builds submit`) names it; it is not run alone.
        var shown = pieces.SelectMany(p => p.Text.Split('\n')).Select(l => l.Trim()).ToList();
        foreach (var (line, text) in prose)
        {
            foreach (Match span in InlineCommand().Matches(text))
            {
                var command = span.Groups[1].Value;
                if (!shown.Any(s => s.StartsWith(command + " ", StringComparison.Ordinal)))
                {
                    pieces.Add((line, command));
                }
            }
        }

        return string.Join("\n", pieces.OrderBy(p => p.Line).Select(p => p.Text));
    }

    /// <summary>Runs the commands of a document part (<see cref="Part"/>) and returns what bash answered and every recorded call.</summary>
    public static async Task<(Tool.Result Shell, IReadOnlyList<Call> Calls)> RunAsync(string markdown)
    {
        var root = Directory.CreateTempSubdirectory("spotjax-readme-").FullName;
        try
        {
            var work = await RepositoryCopy.CreateAsync(Path.Combine(root, "repository"));
            var home = Directory.CreateDirectory(Path.Combine(root, "home")).FullName;
            var record = Directory.CreateDirectory(Path.Combine(root, "calls")).FullName;
            var script = new StringBuilder();
            script.Append("set -euo pipefail\n");
            foreach (var (name, value) in Names)
            {
                script.Append($"export {name}={value}\n");
            }

            // Each call gets the next number; a file, not a variable, so that calls in subshells count too.
            script.Append($$"""
                echo 0 > "{{record}}/next"
                _call() {
                  local n; n=$(( $(cat "{{record}}/next") + 1 )); echo "$n" > "{{record}}/next"
                  local tool=$1; shift
                  printf '%s\0' "$@" > "{{record}}/$n.$tool.args"
                  local shape="" a
                  for a in "$@"; do case "$a" in --*) shape+="${a%%=*} ";; *) shape+="$a ";; esac; done
                  local key seen=0; key=$(printf '%s' "$shape" | md5sum | cut -c1-32)
                  [ -f "{{record}}/shape.$key" ] && seen=$(cat "{{record}}/shape.$key")
                  echo $((seen + 1)) > "{{record}}/shape.$key"
                  local rc=0
                  if [ "$tool" != gcloud ]; then :
                  elif [ "$seen" -ge {{RunsPerShape}} ]; then rc={{Repeat}}
                  else "{{Tool.Require("gcloud")}}" "$@" </dev/null >"{{record}}/$n.out" 2>"{{record}}/$n.err" || rc=$?; fi
                  echo "$rc" > "{{record}}/$n.$tool.rc"
                  return 0
                }
                gcloud() { _call gcloud "$@"; }
                spotjax() { _call spotjax "$@"; }
                terraform() { _call terraform "$@"; }

                """);
            script.Append(Script(markdown)).Append('\n');
            await File.WriteAllTextAsync(Path.Combine(root, "readme.sh"), script.ToString());

            var environment = GcloudSandbox.Environment(Path.Combine(root, "gcloud"));
            environment["HOME"] = home;
            var shell = await Tool.RunAsync("bash", [Path.Combine(root, "readme.sh")], work, environment);

            var calls = new List<Call>();
            foreach (var args in Directory.GetFiles(record, "*.args").OrderBy(f => int.Parse(Path.GetFileName(f).Split('.')[0], System.Globalization.CultureInfo.InvariantCulture)))
            {
                var stem = args[..^".args".Length];
                var tool = Path.GetExtension(stem)[1..];
                var number = Path.GetFileNameWithoutExtension(stem);
                var arguments = (await File.ReadAllTextAsync(args)).Split('\0')[..^1];
                var error = Path.Combine(record, $"{number}.err");
                calls.Add(new Call(
                    tool,
                    arguments,
                    int.Parse(await File.ReadAllTextAsync(stem + ".rc"), System.Globalization.CultureInfo.InvariantCulture),
                    File.Exists(error) ? await File.ReadAllTextAsync(error) : ""));
            }

            return (shell, calls);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static int Indent(string line) => line.Length - line.TrimStart(' ').Length;

    private static string Dedent(List<string> body)
    {
        var indent = body.Where(l => l.Trim().Length > 0).Select(Indent).DefaultIfEmpty(0).Min();
        return string.Join("\n", body.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart(' ')));
    }

    [GeneratedRegex("`((?:" + InlineCommands + @") [^`]+)`")]
    private static partial Regex InlineCommand();
}
