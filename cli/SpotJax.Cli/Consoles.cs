using System.Net.Sockets;
using Spectre.Console;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;
using SpotJax.Functions.Local;

namespace SpotJax.Cli;

/// <summary>
/// Where commands write: results on stdout (never wrapped when piped, so a script can read them),
/// errors on stderr as one <c>error: ...</c> line, and the exit code chosen from the failure.
/// </summary>
public static class Consoles
{
    /// <summary>Standard output.</summary>
    public static IAnsiConsole Out
    {
        get
        {
            var console = AnsiConsole.Console;
            if (Console.IsOutputRedirected)
            {
                console.Profile.Width = 10_000;
            }

            return console;
        }
    }

    /// <summary>Standard error; never wrapped when redirected, so that an error stays one line for a script or a log.</summary>
    public static IAnsiConsole Error { get; } = CreateError();

    private static IAnsiConsole CreateError()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        if (Console.IsErrorRedirected)
        {
            // One error, one line, also in a log file.
            console.Profile.Width = 10_000;
        }

        return console;
    }

    /// <summary>Runs a command's body and turns a user's mistake or an unreachable service into a message and an exit code.</summary>
    public static async Task<int> RunAsync(Func<IAnsiConsole, Task<int>> body, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(body);
        try
        {
            return await body(Out);
        }
        catch (Exception e) when (Explain(e) is var (code, message))
        {
            Fail(Error, message);
            return code;
        }
    }

    /// <summary>
    /// Writes what escaped a command as one <c>error:</c> line: a known failure says what to do next; anything
    /// else is an unexpected error, whose stack trace follows only when <paramref name="verbose"/>.
    /// </summary>
    /// <returns>The exit code.</returns>
    public static int Report(Exception exception, bool verbose, IAnsiConsole error)
    {
        ArgumentNullException.ThrowIfNull(exception);
        ArgumentNullException.ThrowIfNull(error);
        if (Explain(exception) is var (code, message))
        {
            Fail(error, message);
            return code;
        }

        var oneLine = string.Join(' ', exception.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        if (verbose)
        {
            Fail(error, $"unexpected: {oneLine}");
            error.WriteLine(exception.ToString());
        }
        else
        {
            Fail(error, $"unexpected: {oneLine} (run again with --verbose for details)");
        }

        return ExitCodes.Unexpected;
    }

    public static void Fail(string message) => Fail(Error, message);

    private static void Fail(IAnsiConsole console, string message)
    {
        console.Markup("[red]error:[/] ");
        console.WriteLine(message);
    }

    /// <summary>The exit code and message of a failure that is not a defect: a mistake to fix, a service not reachable, Ctrl+C.</summary>
    private static (int Code, string Message)? Explain(Exception e) => e switch
    {
        CliException cli => (cli.ExitCode, cli.Message),
        CodeBundleException bundle => (ExitCodes.Usage, bundle.Message),
        JobDocumentException document => (ExitCodes.Usage, $"{document.Message}\nfix the job file and run again"),
        GoogleApiException google => (ExitCodes.Unavailable, $"Google Cloud: {google.Message}"),
        HttpRequestException http when http.InnerException is SocketException || http.HttpRequestError == HttpRequestError.ConnectionError =>
            (ExitCodes.Unavailable, $"cannot connect: {http.Message}; check that the deployment (or `spotjax local up`) is running"),
        UnauthorizedAccessException or DirectoryNotFoundException or FileNotFoundException =>
            (ExitCodes.Usage, $"{e.Message.TrimEnd('.')}: check the path, and that you may read and write there"),
        OperationCanceledException { InnerException: TimeoutException timeout } =>
            (ExitCodes.Unavailable, $"no answer in time: {timeout.Message}; check that the deployment is reachable and run again"),
        OperationCanceledException => (ExitCodes.Interrupted, "interrupted"),
        _ => null,
    };
}
