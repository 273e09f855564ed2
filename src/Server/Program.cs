using TraceStore.Server.Cli;

return TraceStoreCli.Run(args);
