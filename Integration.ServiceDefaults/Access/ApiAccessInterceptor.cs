using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Configuration;

namespace Microsoft.Extensions.Hosting;

/// <summary>Who made a call: the admin, a service (internal token), a workspace token, or nobody (an open internal API).</summary>
public sealed record ApiCaller(string Kind, string Id, string? WorkspaceId)
{
    public static readonly ApiCaller Admin = new("admin", "admin", null);
    public static readonly ApiCaller Internal = new("internal", "internal", null);
    public static readonly ApiCaller Anonymous = new("anonymous", "anonymous", null);

    /// <summary>A workspace token: its id (never the token) is what the audit log records.</summary>
    public static ApiCaller Token(WorkspaceTokenInfo token) => new("workspace-token", token.TokenId, token.WorkspaceId);
}

/// <summary>
/// Guards every gRPC service of the integration by <see cref="ApiAccess"/>: reads <c>authorization: Bearer</c>,
/// accepts the admin token, the internal token or a workspace token as the method allows, and for a workspace token
/// requires every <c>workspace_id</c> in the request (at any depth) to be the token's workspace — one central
/// check, so an RPC added later is covered without code of its own. Then writes the audit entry of a change.
/// Tokens are compared by their SHA-256 in constant time and never logged.
/// Register it per service: <c>AddServiceOptions&lt;XService&gt;(o =&gt; o.Interceptors.Add&lt;ApiAccessInterceptor&gt;())</c>.
/// </summary>
public sealed class ApiAccessInterceptor(IConfiguration configuration, WorkspaceTokens tokens, AuditLog audit) : Interceptor
{
    public const string AdminTokenKey = "Admin:Token";
    public const string InternalTokenKey = "Internal:Token";

    private const string Scheme = "Bearer ";
    private static readonly object CallerKey = typeof(ApiCaller);
    private static readonly ConcurrentDictionary<MessageDescriptor, bool> NamesWorkspace = new();

    /// <summary>The caller of the current call, as the interceptor established it.</summary>
    public static ApiCaller CallerOf(ServerCallContext context) =>
        context.UserState.TryGetValue(CallerKey, out var caller) ? (ApiCaller)caller : ApiCaller.Anonymous;

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var caller = await AuthorizeAsync(request, context);
        var response = await continuation(request, context);
        if (ApiAccess.IsAudited(context.Method))
        {
            await RecordAsync(caller, request, response, context.Method, "ok");
        }
        return response;
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        await AuthorizeAsync(request, context);
        await continuation(request, responseStream, context);
    }

    private async ValueTask<ApiCaller> AuthorizeAsync(object request, ServerCallContext context)
    {
        var caller = await IdentifyAsync(request, context);
        context.UserState[CallerKey] = caller;
        return caller;
    }

    private async ValueTask<ApiCaller> IdentifyAsync(object request, ServerCallContext context)
    {
        var access = ApiAccess.For(context.Method);
        var internalToken = configuration[InternalTokenKey];
        var adminToken = configuration[AdminTokenKey];
        var internalAllowed = access is Access.Internal or Access.InternalOrWorkspace;
        var presented = Presented(context);

        if (presented is not null && WorkspaceTokens.LooksLikeToken(presented))
        {
            var token = await tokens.AuthenticateAsync(presented)
                ?? throw new RpcException(new Status(StatusCode.Unauthenticated, "The workspace token is not valid (unknown, revoked or mistyped)."));
            var caller = ApiCaller.Token(token);
            if (access is not (Access.Workspace or Access.InternalOrWorkspace))
            {
                await DenyAsync(caller, context, $"{ApiAccess.ShortName(context.Method)} needs the admin token; a workspace token may not call it.");
            }
            var named = WorkspaceIds(request);
            if (named.Count == 0)
            {
                await DenyAsync(caller, context, $"{ApiAccess.ShortName(context.Method)} names no workspace_id; a workspace token acts on its own workspace only.");
            }
            if (named.FirstOrDefault(ws => !string.Equals(ws, token.WorkspaceId, StringComparison.Ordinal)) is { } other)
            {
                await DenyAsync(caller, context, $"workspace_id '{other}': this token belongs to workspace '{token.WorkspaceId}' and acts on it only.");
            }
            return caller;
        }

        if (internalAllowed && string.IsNullOrEmpty(internalToken))
        {
            // An internal API without a configured token is open, as on a private network (a service started alone).
            return presented is not null && Matches(presented, adminToken) ? ApiCaller.Admin : ApiCaller.Anonymous;
        }
        if (presented is null)
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, access switch
            {
                Access.Admin => "Missing 'authorization: Bearer <admin token>' metadata.",
                Access.Internal => "Missing 'authorization: Bearer <token>' metadata: this internal API needs the internal or the admin token.",
                _ => "Missing 'authorization: Bearer <token>' metadata: use the admin token or a workspace token.",
            }));
        }
        if (access == Access.Admin && string.IsNullOrEmpty(adminToken))
        {
            // Fail closed: a service without a configured admin token answers no administrative call.
            throw new RpcException(new Status(StatusCode.Unauthenticated,
                $"The administrative API is disabled: '{AdminTokenKey}' is not configured on this service."));
        }

        // Both comparisons always run, so the time taken does not tell which token was tried.
        var isAdmin = Matches(presented, adminToken);
        var isInternal = internalAllowed & Matches(presented, internalToken);
        if (isAdmin)
        {
            return ApiCaller.Admin;
        }
        if (isInternal)
        {
            return ApiCaller.Internal;
        }
        throw new RpcException(new Status(StatusCode.Unauthenticated, access switch
        {
            Access.Admin => "The admin token is not valid.",
            Access.Internal => "The token is not valid for this internal API.",
            _ => "The token is neither the admin token nor a workspace token.",
        }));
    }

    // A refused attempt is recorded in the token's own workspace (never in the one it tried: a tenant must not be
    // able to flood another's bounded log), then refused.
    private async Task DenyAsync(ApiCaller caller, ServerCallContext context, string message)
    {
        await audit.RecordAsync(caller.WorkspaceId!, caller.Id, ApiAccess.ShortName(context.Method), "", "permission_denied");
        throw new RpcException(new Status(StatusCode.PermissionDenied, message));
    }

    private async Task RecordAsync(ApiCaller caller, object request, object? response, string method, string outcome)
    {
        var workspaces = WorkspaceIds(request);
        var target = Target(request, response);
        foreach (var workspaceId in workspaces.Distinct(StringComparer.Ordinal).Where(IsWorkspaceId))
        {
            await audit.RecordAsync(workspaceId, caller.Id, ApiAccess.ShortName(method), target, outcome);
        }
    }

    /// <summary>Every non-empty or empty <c>workspace_id</c> string field of a request, at any depth (repeated included).</summary>
    public static IReadOnlyList<string> WorkspaceIds(object request)
    {
        var found = new List<string>();
        if (request is IMessage message)
        {
            Collect(message, found, depth: 0);
        }
        return found;
    }

    /// <summary>Whether a request type has a <c>workspace_id</c> at any depth (what a workspace-token method needs).</summary>
    public static bool HasWorkspaceId(MessageDescriptor descriptor) => NamesWorkspace.GetOrAdd(descriptor, d => Names(d, 0));

    private static bool Names(MessageDescriptor descriptor, int depth) =>
        depth < 4 && descriptor.Fields.InDeclarationOrder().Any(f =>
            (f.Name == "workspace_id" && f.FieldType == FieldType.String)
            || (f.FieldType == FieldType.Message && !f.IsMap && Names(f.MessageType, depth + 1)));

    private static void Collect(IMessage message, List<string> found, int depth)
    {
        if (depth >= 4 || !HasWorkspaceId(message.Descriptor))
        {
            return;
        }
        foreach (var field in message.Descriptor.Fields.InDeclarationOrder())
        {
            if (field.Name == "workspace_id" && field.FieldType == FieldType.String && !field.IsRepeated)
            {
                found.Add((string)field.Accessor.GetValue(message));
            }
            else if (field.FieldType == FieldType.Message && !field.IsMap && HasWorkspaceId(field.MessageType))
            {
                if (field.IsRepeated)
                {
                    foreach (var item in (System.Collections.IList)field.Accessor.GetValue(message))
                    {
                        Collect((IMessage)item, found, depth + 1);
                    }
                }
                else if (field.Accessor.GetValue(message) is IMessage child)
                {
                    Collect(child, found, depth + 1);
                }
            }
        }
    }

    // What the change was about: the ids and names of the request and the ids of the answer (a created campaign's id),
    // never other values (tokens, keys and secrets have no such names).
    private static string Target(object request, object? response)
    {
        var parts = new List<string>();
        void Add(object? message, bool names, int depth)
        {
            if (message is not IMessage m)
            {
                return;
            }
            foreach (var field in m.Descriptor.Fields.InDeclarationOrder())
            {
                // One level down too: a config's name is in CreateIntegrationConfigRequest.config.
                if (depth == 0 && field.FieldType == FieldType.Message && !field.IsRepeated && !field.IsMap)
                {
                    Add(field.Accessor.GetValue(m), names, depth + 1);
                    continue;
                }
                if (field.FieldType != FieldType.String || field.IsRepeated || field.Name == "workspace_id"
                    || !(field.Name.EndsWith("_id", StringComparison.Ordinal) || (names && field.Name.EndsWith("name", StringComparison.Ordinal))))
                {
                    continue;
                }
                var value = (string)field.Accessor.GetValue(m);
                var entry = $"{field.Name}={(value.Length > 100 ? value[..100] : value)}";
                if (value.Length > 0 && !parts.Contains(entry))
                {
                    parts.Add(entry);
                }
            }
        }
        Add(request, names: true, depth: 0);
        Add(response, names: false, depth: 0);
        return string.Join(' ', parts);
    }

    private static bool IsWorkspaceId(string id) => id.Length is > 0 and <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-');

    private static string? Presented(ServerCallContext context)
    {
        var header = context.RequestHeaders.GetValue("authorization");
        return header is not null && header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) ? header[Scheme.Length..] : null;
    }

    private static bool Matches(string presented, string? token) =>
        !string.IsNullOrEmpty(token) && CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(token)));
}
