"""Police non-tax payments (警务非税收入缴款): notices, penalty decisions, payments, receipts, refunds."""
