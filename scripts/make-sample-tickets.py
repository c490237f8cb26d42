#!/usr/bin/env python3
"""Writes TuneDesk's sample dataset: support tickets written for the project, each with a
category (Billing / Technical Issue / Account Management) and the fields a ticket mentions
(Customer ID, Account Number, Email). Deterministic (fixed seed), so the committed file is
reproducible:

    python3 scripts/make-sample-tickets.py > samples/support-tickets.csv
"""

import csv
import random
import sys

ROWS = 360
SEED = 20261207

FIRST = ["Anna", "Ben", "Carla", "David", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jonas",
         "Keiko", "Liam", "Maria", "Nikhil", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tara"]
LAST = ["Smith", "Garcia", "Müller", "Okafor", "Rossi", "Tanaka", "Novak", "Dubois", "Silva",
        "Kowalski", "Jensen", "Ahmed", "Park", "Costa", "Berg"]
DOMAINS = ["example.com", "mail.example.org", "acme.example", "northwind.example", "contoso.example"]
PRODUCTS = ["the mobile app", "the desktop app", "the web dashboard", "the API", "the browser extension"]
ERRORS = ["error 500", "error 403", "a blank screen", "a timeout", "error code E-1042", "a spinning wheel"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]

# {cid}: customer id, {acct}: account number, {email}: email; other slots are filled freely.
TEMPLATES = {
    "Billing": [
        "I was charged twice for my subscription this month. My customer ID is {cid}.",
        "Why is my invoice for {month} higher than usual? Account number {acct}.",
        "Please refund the duplicate payment on account {acct}.",
        "I cancelled last month but was still billed. Customer ID {cid}, email {email}.",
        "Can you send a copy of the {month} invoice to {email}?",
        "My card was declined but the charge still shows up. Customer {cid}.",
        "I need a VAT receipt for the annual plan on account {acct}.",
        "The price on my bill does not match the plan I chose. Reach me at {email}.",
        "How do I switch from monthly to yearly billing? Customer ID: {cid}",
        "There is a late fee on my statement that I do not understand. Account {acct}.",
        "Please update the billing address on my invoices. My email is {email}.",
        "I was promised a discount that is not on my bill. Customer ID {cid}.",
    ],
    "Technical Issue": [
        "{product} crashes every time I open the settings page. Customer ID {cid}.",
        "I get {error} when I try to log in to {product}.",
        "Data does not sync between {product} and my phone. Account number {acct}.",
        "The export button in {product} does nothing. You can reach me at {email}.",
        "After the latest update {product} shows {error}. Customer {cid}.",
        "Uploads fail halfway with {error}. My account is {acct}.",
        "Notifications stopped working in {product} since yesterday.",
        "{product} is extremely slow to load reports. Customer ID: {cid}",
        "The API returns {error} for every request from account {acct}.",
        "I cannot attach files larger than 2 MB in {product}. Email: {email}",
        "Search in {product} returns no results even for exact names. Customer {cid}.",
        "Two-factor codes never arrive, and {product} shows {error}. Contact {email}.",
    ],
    "Account Management": [
        "Please change the email on my account to {email}. Customer ID {cid}.",
        "I want to close my account {acct}.",
        "How do I add a second user to account {acct}?",
        "I forgot my password and the reset link expired. My email is {email}.",
        "Please merge my two accounts; the one to keep is {acct}.",
        "Can you transfer ownership of account {acct} to {email}?",
        "I need to update the phone number on my profile. Customer ID: {cid}",
        "Remove my former colleague from our team account {acct}.",
        "My username is misspelled, please correct it. Customer {cid}, email {email}.",
        "How can I download all the data in my account? Customer ID {cid}.",
        "Please reactivate my suspended account {acct}.",
        "I want to change the account owner to myself, {email}.",
    ],
}

FIELDS = [("Customer ID", "cid"), ("Account Number", "acct"), ("Email", "email")]


def fill(rng: random.Random, template: str) -> tuple[str, dict[str, str]]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    slots = {
        "cid": str(rng.randint(100000, 999999)),
        "acct": f"ACC-{rng.randint(10000000, 99999999)}",
        "email": f"{first.lower()}.{last.lower().replace('ü', 'ue')}@{rng.choice(DOMAINS)}",
        "product": rng.choice(PRODUCTS),
        "error": rng.choice(ERRORS),
        "month": rng.choice(MONTHS),
    }
    text = template.format(**slots)
    text = text[0].upper() + text[1:]
    fields = {name: slots[key] if "{" + key + "}" in template else "" for name, key in FIELDS}
    return text, fields


def main() -> None:
    rng = random.Random(SEED)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["ticket", "category"] + [name for name, _ in FIELDS])
    seen = set()
    labels = list(TEMPLATES)
    while len(seen) < ROWS:
        label = labels[len(seen) % len(labels)]
        text, fields = fill(rng, rng.choice(TEMPLATES[label]))
        if text in seen:
            continue
        seen.add(text)
        out.writerow([text, label] + [fields[name] for name, _ in FIELDS])


if __name__ == "__main__":
    main()
