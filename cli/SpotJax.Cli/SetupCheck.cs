namespace SpotJax.Cli;

/// <summary>One prerequisite: what was found, or the one line that says what to run.</summary>
/// <param name="Name">What was checked.</param>
/// <param name="Passed">Whether it is in place.</param>
/// <param name="Line">What was found when it passed; the actionable line when it did not.</param>
/// <param name="Required">False for what only some uses need (reported, never a failure).</param>
public sealed record SetupCheck(string Name, bool Passed, string Line, bool Required = true)
{
    public static SetupCheck Ok(string name, string found) => new(name, true, found);

    public static SetupCheck Missing(string name, string whatToRun) => new(name, false, whatToRun);

    public static SetupCheck Note(string name, string line) => new(name, false, line, Required: false);
}
