using SpotJax.Chaos;

// dotnet run --project tests/SpotJax.Chaos -- [--seed N] [--jobs N] [--short]; exits 1 on any violation.
ChaosOptions options;
try
{
    options = ChaosOptions.Parse(args);
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync(e.Message);
    return 2;
}

var report = await ChaosRun.RunAsync(options, line => Console.WriteLine($"[{DateTimeOffset.UtcNow:HH:mm:ss}] {line}"));
Console.WriteLine();
Console.WriteLine(report.Table);
foreach (var violation in report.Violations)
{
    Console.WriteLine($"VIOLATION: {violation}");
}

Console.WriteLine(report.Violations.Count == 0 ? "no violations" : $"{report.Violations.Count} violation(s)");
return report.Violations.Count == 0 ? 0 : 1;
