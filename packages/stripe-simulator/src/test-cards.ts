// Stripe's test PaymentMethod ids (https://docs.stripe.com/testing) and what confirming with each
// does. Only the ones a checkout exercises; anything else is answered like an unknown PaymentMethod.

export interface TestCard {
  brand: string;
  last4: string;
  funding: string;
  country: string;
  decline?: { code: string; declineCode: string; message: string };
  /** Charges succeed; refunds succeed at first, then fail asynchronously with this failure_reason. */
  refundFailure?: string;
  /** 3D Secure: every on-session payment needs the cardholder to authenticate first (requires_action). */
  authenticationRequired?: boolean;
}

const GENERIC = 'Your card was declined.';

const CARDS: Record<string, TestCard> = {
  pm_card_visa: { brand: 'visa', last4: '4242', funding: 'credit', country: 'US' },
  pm_card_visa_debit: { brand: 'visa', last4: '5556', funding: 'debit', country: 'US' },
  pm_card_mastercard: { brand: 'mastercard', last4: '4444', funding: 'credit', country: 'US' },
  pm_card_mastercard_debit: { brand: 'mastercard', last4: '8210', funding: 'debit', country: 'US' },
  pm_card_amex: { brand: 'amex', last4: '8431', funding: 'credit', country: 'US' },
  pm_card_discover: { brand: 'discover', last4: '1117', funding: 'credit', country: 'US' },
  pm_card_nz: { brand: 'visa', last4: '0002', funding: 'credit', country: 'NZ' },
  pm_card_au: { brand: 'visa', last4: '0000', funding: 'credit', country: 'AU' },
  // 4000000000005126: "Charge succeeds but refunding a captured charge fails asynchronously with a
  // failure_reason of expired_or_canceled_card" (docs.stripe.com/testing, refunds).
  pm_card_refundFail: { brand: 'visa', last4: '5126', funding: 'credit', country: 'US', refundFailure: 'expired_or_canceled_card' },
  // 4000002760003184: "This card requires authentication on all transactions, regardless of how
  // the card is set up" (docs.stripe.com/testing#authentication-and-setup).
  pm_card_authenticationRequired: { brand: 'visa', last4: '3184', funding: 'credit', country: 'US', authenticationRequired: true },
  pm_card_chargeDeclined: {
    brand: 'visa', last4: '0002', funding: 'credit', country: 'US',
    decline: { code: 'card_declined', declineCode: 'generic_decline', message: GENERIC },
  },
  pm_card_chargeDeclinedInsufficientFunds: {
    brand: 'visa', last4: '9995', funding: 'credit', country: 'US',
    decline: { code: 'card_declined', declineCode: 'insufficient_funds', message: 'Your card has insufficient funds.' },
  },
  pm_card_chargeDeclinedLostCard: {
    brand: 'visa', last4: '9987', funding: 'credit', country: 'US',
    decline: { code: 'card_declined', declineCode: 'lost_card', message: GENERIC },
  },
  pm_card_chargeDeclinedFraudulent: {
    brand: 'visa', last4: '0019', funding: 'credit', country: 'US',
    decline: { code: 'card_declined', declineCode: 'fraudulent', message: GENERIC },
  },
  pm_card_chargeDeclinedExpiredCard: {
    brand: 'visa', last4: '0069', funding: 'credit', country: 'US',
    decline: { code: 'expired_card', declineCode: 'expired_card', message: 'Your card has expired.' },
  },
  pm_card_chargeDeclinedIncorrectCvc: {
    brand: 'visa', last4: '0127', funding: 'credit', country: 'US',
    decline: { code: 'incorrect_cvc', declineCode: 'incorrect_cvc', message: "Your card's security code is incorrect." },
  },
  pm_card_chargeDeclinedProcessingError: {
    brand: 'visa', last4: '0119', funding: 'credit', country: 'US',
    decline: { code: 'processing_error', declineCode: 'processing_error', message: 'An error occurred while processing your card. Try again in a little bit.' },
  },
};

export function findTestCard(paymentMethod: string): TestCard | undefined {
  return Object.hasOwn(CARDS, paymentMethod) ? CARDS[paymentMethod] : undefined;
}

export const TEST_PAYMENT_METHODS: readonly string[] = Object.keys(CARDS);
