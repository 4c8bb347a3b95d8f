using SpotJax.Cli;

return await SpotJaxCommand.InvokeAsync(SpotJaxCommand.Build().Parse(args), Consoles.Error);
