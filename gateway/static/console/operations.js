// Every GraphQL operation the console sends, each a named operation in its own
// template string (no interpolation): tests/gateway/test_console_operations.py reads them
// from this file and validates each against the schema. The client sends them as
// persisted queries (shared/graphql.js).

export const SIGN_IN_CHECK = `query ConsoleSignInCheck {
  catalogAuditLog(first: 1) { edges { cursor } }
}`;

export const TENANTS = `query ConsoleTenants($first: Int!, $after: String, $search: String) {
  tenants(first: $first, after: $after, search: $search) {
    edges {
      node {
        id name email currency salesMode providerError providerCustomerId
        subscription { id status plan { id name } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const TENANT = `query ConsoleTenant($id: ID!) {
  tenant(id: $id) {
    id name email currency timezone salesMode collectionMethod daysUntilDue taxRate
    providerCustomerId providerError createdAt updatedAt now
    billingInfo {
      companyName
      address { line1 line2 city state postalCode country }
    }
    subscription {
      id status currentPeriodStart currentPeriodEnd cancelAtPeriodEnd trialEnd pausedAt renewalError
      plan { id code name interval basePrice { amount currency } }
      addons { quantity addon { id code name } }
    }
    seats { included purchased total used available byType { seatType total used available } }
    members { id email seatType status createdAt }
    creditBalance { amount currency }
    creditLedger(first: 20) {
      edges { node { id amount { amount currency } reason description at balanceAfter { amount currency } } }
    }
    invoices(first: 50) {
      edges {
        node {
          id number status reason periodStart periodEnd createdAt
          total { amount currency }
          amountDue { amount currency }
        }
      }
    }
  }
}`;

export const AUDIT_LOG = `query ConsoleAuditLog($tenantId: ID!, $first: Int!, $after: String) {
  auditLog(tenantId: $tenantId, first: $first, after: $after) {
    edges { node { id at actor action subjectId before after } }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const UPDATE_BILLING_INFO = `mutation ConsoleUpdateBillingInfo($tenantId: ID!, $input: BillingInfoInput!) {
  updateBillingInfo(tenantId: $tenantId, input: $input) {
    __typename
    ... on Tenant {
      id updatedAt
      billingInfo { companyName address { line1 line2 city state postalCode country } }
    }
    ... on ValidationError { field problems { field message } }
    ... on Error { code message }
  }
}`;

export const INVOICE = `query ConsoleInvoice($id: ID!) {
  invoice(id: $id) {
    id number status reason currency periodStart periodEnd createdAt dueDate paidAt overdueAt
    hostedInvoiceUrl providerInvoiceId paymentError
    subtotal { amount currency }
    tax { amount currency }
    creditsApplied { amount currency }
    total { amount currency }
    amountDue { amount currency }
    amountPaid { amount currency }
    credited { amount currency }
    lines {
      kind description quantity periodStart periodEnd
      unitAmount { amount currency }
      amount { amount currency }
    }
    creditNotes { id number outcome reason createdAt amount { amount currency } }
  }
}`;

export const CATALOG = `query ConsoleCatalog {
  plans {
    id code name currency interval includedSeats minSeats maxSeats trialDays
    basePrice { amount currency }
    addons { id code }
  }
  addons(includeArchived: true) {
    id code name currency seatType seatsPerUnit archivedAt
    price { amount currency }
  }
}`;

export const RETRY_PROVIDER_TASKS = `mutation ConsoleRetryProviderTasks($tenantId: ID!) {
  retryProviderTasks(tenantId: $tenantId) {
    __typename
    ... on ProviderTasksRetried { retried tenant { id providerError } }
    ... on Error { code message }
  }
}`;

export const WEBHOOK_ENDPOINTS = `query ConsoleWebhookEndpoints {
  webhookEndpoints { id url events tenantId description enabled createdAt }
}`;

export const WEBHOOK_DELIVERIES = `query ConsoleWebhookDeliveries($endpointId: ID!, $first: Int!, $after: String) {
  webhookDeliveries(endpointId: $endpointId, first: $first, after: $after) {
    edges {
      node {
        id eventId eventType status attempts nextAttemptAt createdAt
        attemptLog { attempt at statusCode error durationMs }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const REDELIVER_WEBHOOK = `mutation ConsoleRedeliverWebhook($deliveryId: ID!) {
  redeliverWebhook(deliveryId: $deliveryId) {
    __typename
    ... on WebhookDelivery { id status attempts nextAttemptAt }
    ... on ValidationError { field }
    ... on Error { code message }
  }
}`;

export const PORTAL_CONFIGURATION = `query ConsolePortalConfiguration {
  portalConfiguration {
    changePlan changeSeats cancelAtPeriodEnd cancelImmediately pause applyCoupons manageMembers
    prorationBillingMode
  }
}`;

export const UPDATE_PORTAL_CONFIGURATION = `mutation ConsoleUpdatePortalConfiguration($input: PortalConfigurationInput!) {
  updatePortalConfiguration(input: $input) {
    __typename
    ... on PortalConfiguration {
      changePlan changeSeats cancelAtPeriodEnd cancelImmediately pause applyCoupons manageMembers
      prorationBillingMode
    }
    ... on ValidationError { field problems { field message } }
    ... on Error { code message }
  }
}`;
