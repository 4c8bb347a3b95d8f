using SpotJax.Cli;

return await SpotJaxCommand.Build().Parse(args).InvokeAsync();
