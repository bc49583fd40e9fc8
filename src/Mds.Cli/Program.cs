using Mds.Cli;

return await CliApp.RunAsync(args);
