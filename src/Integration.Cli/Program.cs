using Integration.Cli;

// The command line for the admin, ingestion, campaigns and deliveries gRPC APIs (for machines without grpcurl).
return await new CliApp(CliSettings.FromEnvironment(), Console.Out, Console.Error).RunAsync(args);
