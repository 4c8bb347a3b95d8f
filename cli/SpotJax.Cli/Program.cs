using System.CommandLine;
using SpotJax.Cli;

// Ctrl+C and SIGTERM cancel the command's token; the wait lets `run` cancel its job and `local up`
// stop its workers before the process ends (System.CommandLine's default is 2 seconds).
return await SpotJaxCommand.Build().Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) });
