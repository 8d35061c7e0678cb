using MixLora.Cli;

return CliApp.Run(args);
