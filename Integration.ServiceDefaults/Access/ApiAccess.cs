using System.Collections.Frozen;

namespace Microsoft.Extensions.Hosting;

/// <summary>Who may call an RPC.</summary>
public enum Access
{
    /// <summary>The admin token only (operators).</summary>
    Admin,

    /// <summary>The internal token the services hold, or the admin token; open when <c>Internal:Token</c> is not configured.</summary>
    Internal,

    /// <summary>The admin token, or a workspace token for the workspace(s) the request names.</summary>
    Workspace,

    /// <summary><see cref="Internal"/> or <see cref="Workspace"/>: lookups the services make for each other and tenants make for themselves.</summary>
    InternalOrWorkspace,
}

/// <summary>
/// The one table of who may call what, for every gRPC service of the integration. A service takes its default;
/// the methods listed differ from it. A method added to a service gets the service's default, so adding an
/// Admin RPC needs nothing here, and opening one to workspace tokens is a line in this table. Whatever a
/// workspace token may call is checked against the <c>workspace_id</c> fields of its request
/// (<see cref="ApiAccessInterceptor"/>); tests/Integration.Campaigns.Tests/Tenancy walks every RPC against it.
/// </summary>
public static class ApiAccess
{
    private sealed record ServiceRule(Access Default, FrozenDictionary<string, Access> Methods, bool Audited);

    private static readonly FrozenDictionary<string, ServiceRule> Services = new Dictionary<string, ServiceRule>
    {
        // Creating workspaces, keys and limits stay with operators; a tenant manages its own configs, tokens and audit log.
        ["integration.admin.v1.Admin"] = Rule(Access.Admin, audited: true,
            ("GetWorkspace", Access.Workspace),
            ("CreateIntegrationConfig", Access.Workspace),
            ("ListIntegrationConfigs", Access.Workspace),
            ("DeleteIntegrationConfig", Access.Workspace),
            ("SetSyncSecret", Access.Workspace),
            ("DeleteSyncSecret", Access.Workspace),
            ("CreateWorkspaceToken", Access.Workspace),
            ("ListWorkspaceTokens", Access.Workspace),
            ("RevokeWorkspaceToken", Access.Workspace),
            ("ListAuditLog", Access.Workspace)),
        // Writes come from the edge only; the lookups are the tenant's own data.
        ["integration.ingestion.v1.Ingestion"] = Rule(Access.Internal, audited: false,
            ("GetUser", Access.InternalOrWorkspace),
            ("ListUserEvents", Access.InternalOrWorkspace)),
        ["integration.segments.v1.Segments"] = Rule(Access.InternalOrWorkspace, audited: false),
        ["integration.campaigns.v1.Campaigns"] = Rule(Access.Workspace, audited: true),
        ["integration.campaigns.v1.Deliveries"] = Rule(Access.Workspace, audited: true),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private static ServiceRule Rule(Access fallback, bool audited, params (string Method, Access Access)[] methods) =>
        new(fallback, methods.ToFrozenDictionary(m => m.Method, m => m.Access, StringComparer.Ordinal), audited);

    /// <summary>
    /// Who may call <paramref name="fullMethod"/> (<c>/package.Service/Method</c>, as in <c>ServerCallContext.Method</c>).
    /// A service missing from the table is Admin-only: nothing is open by omission.
    /// </summary>
    public static Access For(string fullMethod)
    {
        var (service, method) = Split(fullMethod);
        return Services.TryGetValue(service, out var rule)
            ? rule.Methods.GetValueOrDefault(method, rule.Default)
            : Access.Admin;
    }

    /// <summary>
    /// Whether a successful call is written to the audit log: every call that changes something (or sends
    /// something, like a test send) on an audited service; reads (Get, List, Count, Preview, Evaluate) are not.
    /// </summary>
    public static bool IsAudited(string fullMethod)
    {
        var (service, method) = Split(fullMethod);
        return Services.TryGetValue(service, out var rule) && rule.Audited && !IsRead(method);
    }

    private static bool IsRead(string method) =>
        method.StartsWith("Get", StringComparison.Ordinal) || method.StartsWith("List", StringComparison.Ordinal)
        || method.StartsWith("Count", StringComparison.Ordinal) || method.StartsWith("Preview", StringComparison.Ordinal)
        || method.StartsWith("Evaluate", StringComparison.Ordinal);

    /// <summary>The short name of a method as the audit log shows it: <c>Service/Method</c>.</summary>
    public static string ShortName(string fullMethod)
    {
        var (service, method) = Split(fullMethod);
        return service[(service.LastIndexOf('.') + 1)..] + "/" + method;
    }

    private static (string Service, string Method) Split(string fullMethod)
    {
        var path = fullMethod.AsSpan().TrimStart('/');
        var slash = path.IndexOf('/');
        return slash < 0 ? (path.ToString(), "") : (path[..slash].ToString(), path[(slash + 1)..].ToString());
    }
}
