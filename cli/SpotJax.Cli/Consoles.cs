using System.Net.Sockets;
using Spectre.Console;
using SpotJax.Core.Ports;

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

    /// <summary>Runs a command's body and turns what escapes it into a message and an exit code.</summary>
    public static async Task<int> RunAsync(Func<IAnsiConsole, Task<int>> body, CancellationToken ct)
    {
        try
        {
            return await body(Out);
        }
        catch (CliException e)
        {
            Fail(e.Message);
            return e.ExitCode;
        }
        catch (GoogleApiException e)
        {
            Fail($"Google Cloud: {e.Message}");
            return ExitCodes.Unavailable;
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException || e.HttpRequestError == HttpRequestError.ConnectionError)
        {
            Fail($"cannot connect: {e.Message}");
            return ExitCodes.Unavailable;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Fail("interrupted");
            return ExitCodes.Interrupted;
        }
    }

    private static IAnsiConsole CreateError()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        if (Console.IsErrorRedirected)
        {
            console.Profile.Width = 10_000;
        }

        return console;
    }

    public static void Fail(string message)
    {
        Error.Markup("[red]error:[/] ");
        Error.WriteLine(message);
    }
}
