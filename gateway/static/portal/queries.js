// Every GraphQL document the billing portal sends, by name. Each runs with the portal
// session's cookie; tests/api/test_portal_pages.py runs them through a real session.

const MONEY = "amount currency";
const ADDON = `id code name seatType seatsPerUnit price { ${MONEY} }`;
const PLAN = `id code name currency interval basePrice { ${MONEY} } includedSeats minSeats maxSeats
  addons { ${ADDON} }`;

export const PORTAL_SESSION = `query PortalSession { portalSession { id tenantId returnUrl expiresAt } }`;

export const PORTAL = `query Portal($tenantId: ID!) {
  portalConfiguration { changePlan changeSeats cancelAtPeriodEnd cancelImmediately pause applyCoupons
    manageMembers prorationBillingMode }
  tenant(id: $tenantId) {
    id name currency timezone now
    creditBalance { ${MONEY} }
    creditLedger(first: 50) { edges { node { id amount { ${MONEY} } reason description at
      balanceAfter { ${MONEY} } } } }
    subscription {
      id status currentPeriodStart currentPeriodEnd cancelAtPeriodEnd cancelledAt trialEnd pausedAt resumesAt
      pastDueAt graceEndsAt
      plan { ${PLAN} }
      addons { quantity addon { ${ADDON} } }
      latestInvoice { id number status amountDue { ${MONEY} } hostedInvoiceUrl }
      discount { endsAt coupon { code name } }
      scheduledChange { effectiveAt plan { name } }
    }
    seats { included purchased total used available byType { seatType total used available } }
    members { id email seatType status }
    entitlements { featureCode kind enabled reason limit used remaining resetsAt }
    invoices(first: 24) { edges { node { id number status createdAt periodStart periodEnd
      total { ${MONEY} } amountDue { ${MONEY} } hostedInvoiceUrl } } }
  }
  plans { ${PLAN} }
  features { code name kind meterName }
}`;

export const USAGE = `query PortalUsage($tenantId: ID!, $meterName: String!, $from: Date!, $to: Date!) {
  meterUnitPeriodCounts(tenantId: $tenantId, meterName: $meterName, from: $from, to: $to) { date count }
}`;

export const METERS = `query PortalMeters { meters { name displayName aggregation } }`;

const CHANGE_ERRORS = `... on SeatsInUseError { membersToRemove members { id email seatType } }
  ... on ValidationError { field } ... on Error { code message }`;

export const PREVIEW = `mutation PortalPreview($input: ChangePlanInput!) {
  previewChangePlan(input: $input) { __typename
    ... on PlanChangePreview { effectiveAt
      immediateCharge {
        lineItems { kind description quantity unitAmount { ${MONEY} } prorationFactor amount { ${MONEY} } }
        summary { currency subtotal { ${MONEY} } tax { ${MONEY} } customerCredits { ${MONEY} }
          totalAmount { ${MONEY} } amountDue { ${MONEY} } creditToBalance { ${MONEY} } text } }
      newSubscription { plan { ${PLAN} } addons { quantity addon { ${ADDON} } } seats { total }
        currentPeriodEnd } }
    ${CHANGE_ERRORS} } }`;

export const CHANGE = `mutation PortalChange($input: ChangePlanInput!) {
  changePlan(input: $input) { __typename
    ... on PlanChange { subscription { id } invoice { id number total { ${MONEY} } amountDue { ${MONEY} } } }
    ${CHANGE_ERRORS} } }`;

export const CANCEL = `mutation PortalCancel($subscriptionId: ID!, $atPeriodEnd: Boolean!) {
  cancelSubscription(subscriptionId: $subscriptionId, atPeriodEnd: $atPeriodEnd) { __typename
    ... on Subscription { id status cancelAtPeriodEnd } ... on Error { code message } } }`;

export const PAUSE = `mutation PortalPause($subscriptionId: ID!) {
  pauseSubscription(subscriptionId: $subscriptionId) { __typename
    ... on Subscription { id status } ... on Error { code message } } }`;

export const RESUME = `mutation PortalResume($subscriptionId: ID!) {
  resumeSubscription(subscriptionId: $subscriptionId) { __typename
    ... on Subscription { id status } ... on Error { code message } } }`;

export const COUPON = `mutation PortalCoupon($subscriptionId: ID!, $couponCode: String!) {
  applyCoupon(subscriptionId: $subscriptionId, couponCode: $couponCode) { __typename
    ... on Subscription { id } ... on Error { code message } } }`;

export const INVITE = `mutation PortalInvite($input: InviteMemberInput!) {
  inviteMember(input: $input) { __typename
    ... on Member { id email seatType } ... on ValidationError { field } ... on Error { code message } } }`;

export const REMOVE = `mutation PortalRemove($memberId: ID!) {
  removeMember(memberId: $memberId) { __typename ... on Member { id } ... on Error { code message } } }`;

// Live updates: any of these means "reload what the portal shows".
export const LIVE = {
  seats: `subscription PortalSeats($tenantId: ID!) { seatsChanged(tenantId: $tenantId) { __typename } }`,
  invoices: `subscription PortalInvoices($tenantId: ID!) { invoiceEvents(tenantId: $tenantId) { __typename } }`,
  entitlements: `subscription PortalEntitlements($tenantId: ID!) {
    entitlementsChanged(tenantId: $tenantId) { __typename } }`,
};
