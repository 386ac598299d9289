"""Phrase banks and text builders for the synthetic demo study (see :mod:`spanalysis.demo`).

Everything here is invented. The banks are written to read like interviews, observation notes
and service documents from a link-worker (social prescribing) evaluation in English primary
care: first-person, British English, with the hesitations of speech. Transcripts are assembled
from many short interchangeable sentences so that no two read as copies, and every passage that
expresses a theme is built as one contiguous stretch of text so that its character offsets can be
recorded as a coded segment (``start`` inclusive, ``end`` exclusive, counted in Unicode code
points as in REFI-QDA).

The themes follow the benefits patients described in the seed study (mixed-methods.md, "The
study context"): space to think, hope, feeling valued and not alone, social connection, family
dynamics and trust in statutory services; plus barriers, the link-worker relationship,
practical help and distressing disclosures (marked sensitive).

Public names used by :mod:`spanalysis.demo`: :data:`CODEBOOK`, :data:`NAMES`,
:data:`LINK_WORKER_NAMES`, :class:`TextBuilder`, :func:`interview`, :func:`observation`,
:func:`documents`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["CODEBOOK", "NAMES", "LINK_WORKER_NAMES", "PLANTED_IDENTIFIER_TEXT", "EMOJI",
           "CodedSpan", "TextBuilder", "interview", "observation", "documents", "THEMES"]

# --------------------------------------------------------------------------------------------
# Codebook
# --------------------------------------------------------------------------------------------
#: The six benefits named in the seed study, in the order mixed-methods.md lists them.
THEMES = ["space_to_think", "hope", "valued_not_alone", "social_connection", "family_dynamics",
          "trust_services"]

CODEBOOK: list[dict] = [
    {"id": "benefits", "name": "Benefits of link working", "parent": None,
     "definition": "Parent code for the benefits patients describe from seeing a link worker.",
     "inclusion": "Use the child codes; do not code text to this parent directly.",
     "exclusion": "Practical tasks done for the person (see practical_support).",
     "example": "", "keywords": [], "sensitive": False, "colour": "#1B9E77"},
    {"id": "space_to_think", "name": "Space and permission to think", "parent": "benefits",
     "definition": "Having time, space or permission to stop, reflect and think more clearly "
                   "about one's situation.",
     "inclusion": "Talk of slowing down, clearing the head, sorting out thoughts, being given "
                  "time without being rushed.",
     "exclusion": "Feeling better in mood without reference to thinking or reflection (code "
                  "hope or leave uncoded).",
     "example": "It was the first time in years anyone gave me room to just think.",
     "keywords": ["think", "thinking", "head", "time", "space", "clear", "rushed", "breathe",
                  "step back"],
     "sensitive": False, "colour": "#66C2A5"},
    {"id": "hope", "name": "Offering hope", "parent": "benefits",
     "definition": "A sense that things can improve; looking forward; optimism about the future.",
     "inclusion": "Statements about the future, plans, things to look forward to, light at the "
                  "end of the tunnel.",
     "exclusion": "Relief about a solved practical problem without a forward-looking element.",
     "example": "For the first time I could see a way forward.",
     "keywords": ["hope", "future", "forward", "looking forward", "plans", "light", "better",
                  "optimistic"],
     "sensitive": False, "colour": "#FC8D62"},
    {"id": "valued_not_alone", "name": "Feeling valued and not alone", "parent": "benefits",
     "definition": "Feeling that one matters, is cared about, and is not facing things alone.",
     "inclusion": "Being cared about, mattering to someone, someone being on their side, not "
                  "being on one's own with a problem.",
     "exclusion": "New friendships or group membership as such (code social_connection).",
     "example": "She made me feel like I mattered, like I wasn't just a number.",
     "keywords": ["valued", "mattered", "cared", "alone", "on my side", "number", "bother",
                  "someone in my corner"],
     "sensitive": False, "colour": "#8DA0CB"},
    {"id": "social_connection", "name": "Creating social connections", "parent": "benefits",
     "definition": "New or renewed contact with other people: groups, activities, friends, "
                   "neighbours.",
     "inclusion": "Joining groups, meeting people, making friends, getting out of the house to "
                  "be with others; reduced loneliness through contact.",
     "exclusion": "Relationships within the family (code family_dynamics).",
     "example": "I go to the walking group every Tuesday now and we have a coffee after.",
     "keywords": ["group", "friends", "people", "lonely", "loneliness", "meet", "club",
                  "company", "neighbours", "coffee"],
     "sensitive": False, "colour": "#E78AC3"},
    {"id": "family_dynamics", "name": "Changing family dynamics", "parent": "benefits",
     "definition": "Changes in relationships or roles within the family attributed to the "
                   "support.",
     "inclusion": "Less conflict, more contact, sharing the load of caring, family noticing a "
                  "change.",
     "exclusion": "Friends and neighbours (code social_connection).",
     "example": "My son says I'm more like my old self, we actually talk now.",
     "keywords": ["family", "son", "daughter", "husband", "wife", "grandchildren", "sister",
                  "brother", "kids", "partner"],
     "sensitive": False, "colour": "#A6D854"},
    {"id": "trust_services", "name": "Re-establishing trust in statutory services",
     "parent": "benefits",
     "definition": "Renewed willingness to use or trust the GP, council, DWP or other statutory "
                   "services after bad experiences.",
     "inclusion": "Going back to the GP, feeling the surgery or council now listens, being "
                  "willing to ask for help from services again.",
     "exclusion": "Voluntary or community groups (code social_connection); complaints about "
                  "waiting (code waiting_lists).",
     "example": "I'd given up on the surgery, but now I'll ring them if I need to.",
     "keywords": ["surgery", "GP", "doctor", "council", "services", "trust", "system",
                  "appointment", "jobcentre"],
     "sensitive": False, "colour": "#FFD92F"},
    {"id": "barriers", "name": "Barriers to taking part", "parent": None,
     "definition": "Parent code for things that made it harder to use the service or the "
                   "activities it led to.",
     "inclusion": "Use the child codes.", "exclusion": "", "example": "", "keywords": [],
     "sensitive": False, "colour": "#D95F02"},
    {"id": "waiting_lists", "name": "Waiting lists", "parent": "barriers",
     "definition": "Delays waiting for the link worker or for services they referred on to.",
     "inclusion": "Weeks or months of waiting, being on a list, gaps between sessions.",
     "exclusion": "Distrust of services without a delay (code trust_services if it changed).",
     "example": "Counselling had a six-month waiting list, so that was no good.",
     "keywords": ["waiting", "wait", "list", "months", "weeks", "delay"],
     "sensitive": False, "colour": "#E6AB02"},
    {"id": "transport_cost", "name": "Transport and cost", "parent": "barriers",
     "definition": "Getting to activities: bus fares, distance, no car, cost of activities.",
     "inclusion": "Cost of travel or of the activity, unreliable buses, distance.",
     "exclusion": "Debt advice (code practical_support).",
     "example": "The group's two buses away and I can't afford that every week.",
     "keywords": ["bus", "fare", "cost", "afford", "taxi", "car", "travel", "money"],
     "sensitive": False, "colour": "#A6761D"},
    {"id": "digital_exclusion", "name": "Digital exclusion", "parent": "barriers",
     "definition": "Difficulty with online forms, apps, video calls or having no device or data.",
     "inclusion": "No smartphone, no internet, can't use online booking or forms.",
     "exclusion": "", "example": "Everything's online now and I haven't got a computer.",
     "keywords": ["online", "internet", "computer", "phone", "app", "email", "website", "zoom"],
     "sensitive": False, "colour": "#666666"},
    {"id": "link_worker_relationship", "name": "Relationship with the link worker",
     "parent": None,
     "definition": "Parent code for how the person experienced the link worker.",
     "inclusion": "Use the child codes.", "exclusion": "", "example": "", "keywords": [],
     "sensitive": False, "colour": "#7570B3"},
    {"id": "being_listened_to", "name": "Being listened to", "parent": "link_worker_relationship",
     "definition": "The link worker listened, took time, did not judge or rush.",
     "inclusion": "Listening, patience, not judging, going at the person's pace.",
     "exclusion": "Feeling valued in general (code valued_not_alone).",
     "example": "She just let me talk, she didn't keep looking at the clock.",
     "keywords": ["listened", "listen", "talk", "judge", "clock", "patient", "heard"],
     "sensitive": False, "colour": "#BEAED4"},
    {"id": "practical_help", "name": "Practical help", "parent": None,
     "definition": "Parent code for practical tasks the link worker helped with.",
     "inclusion": "Use the child codes.", "exclusion": "", "example": "", "keywords": [],
     "sensitive": False, "colour": "#1F78B4"},
    {"id": "practical_support", "name": "Practical support (debt, housing, benefits)",
     "parent": "practical_help",
     "definition": "Concrete help with debt, housing, benefits claims, forms, bills or food.",
     "inclusion": "Forms filled in, calls made on the person's behalf, debt advice, housing "
                  "repairs, benefit appeals, foodbank vouchers.",
     "exclusion": "Emotional support without a practical task.",
     "example": "She rang the council about the damp and sorted out my PIP form.",
     "keywords": ["debt", "housing", "benefits", "form", "forms", "council tax", "bills", "PIP",
                  "universal credit", "foodbank", "rent", "damp"],
     "sensitive": False, "colour": "#A6CEE3"},
    {"id": "sensitive_content", "name": "Sensitive content", "parent": None,
     "definition": "Parent code for material that may distress readers; quote only with care.",
     "inclusion": "Use the child codes.", "exclusion": "", "example": "", "keywords": [],
     "sensitive": True, "colour": "#E31A1C"},
    {"id": "distress_disclosure", "name": "Disclosure of distress", "parent": "sensitive_content",
     "definition": "Accounts of severe distress, hopelessness, thoughts of not wanting to be "
                   "here, self-neglect or abuse.",
     "inclusion": "Any passage a reader could find distressing; code the whole account.",
     "exclusion": "Ordinary low mood described in passing.",
     "example": "There were nights I didn't see the point of carrying on.",
     "keywords": ["point", "carrying on", "dark", "end it", "couldn't cope", "crying",
                  "didn't want to be here"],
     "sensitive": True, "colour": "#FB9A99"},
]

# --------------------------------------------------------------------------------------------
# People named in the text (all names that can appear are listed in names.txt for redaction)
# --------------------------------------------------------------------------------------------
#: First names given to link workers, in LW order (LW01 -> first name); cycles if needed. The
#: banks refer to the link worker as "she" (most link workers in the seed study were women), so
#: these are all women's names.
LINK_WORKER_NAMES = ["Chloé", "Bronwen", "Aisha", "Priya", "Niamh", "Lorraine", "Fatima",
                     "Ifeoma", "Joanne", "Siobhán", "Gemma", "Nadia", "Ewa", "Hannah", "Abena",
                     "Rachel"]
#: Names of relatives, friends and neighbours that participants mention.
OTHER_NAMES = ["Sinéad", "Maureen", "Darren", "Shabana", "Terry", "Olusegun", "Agnieszka",
               "Colin", "Zoë", "Raymond", "Nasreen", "Wayne", "Tomasz", "Kwame", "Gareth",
               "Yusuf"]
#: The surname used with a title in a planted identifier ("Mrs Patel").
TITLED_SURNAME = "Patel"
NAMES = sorted(set(LINK_WORKER_NAMES + OTHER_NAMES + [TITLED_SURNAME]))

#: One emoji (outside the Basic Multilingual Plane: one code point, two UTF-16 code units)
#: planted in one transcript so that offset handling is exercised.
EMOJI = "\U0001F642"  # SLIGHTLY SMILING FACE

# --------------------------------------------------------------------------------------------
# Planted identifiers (for the redaction tests). The NHS number is computed in demo.py.
# --------------------------------------------------------------------------------------------
#: Phone number in Ofcom's range reserved for TV and radio drama (07700 900000 - 900999).
PHONE = "07700 900123"
#: Email at a domain reserved for documentation (RFC 2606).
EMAIL = "maggie.h.1958@example.com"
#: A postcode in the valid UK format (outward LS6, inward 9ZX).
POSTCODE = "LS6 9ZX"
#: Date of birth written as people say it on forms.
DATE_OF_BIRTH = "14/02/1961"

PLANTED_IDENTIFIER_TEXT = {
    "name": "Sinéad",
    "name_with_title": f"Mrs {TITLED_SURNAME}",
    "phone": PHONE,
    "email": EMAIL,
    "postcode": POSTCODE,
    "date_of_birth": DATE_OF_BIRTH,
}

# --------------------------------------------------------------------------------------------
# Slot fillers
# --------------------------------------------------------------------------------------------
GROUPS = ["the walking group", "the knit and natter group", "the men's shed",
          "the community garden", "the coffee morning at the library", "the choir at St Mark's",
          "the veterans' breakfast club", "the art class at the community centre",
          "the chair-based exercise class", "the allotment group", "the cooking club",
          "the conversation café", "the bowls club", "the Tuesday lunch club"]
RELATIVES = ["my daughter", "my son", "my sister", "my husband", "my wife", "my partner",
             "my brother", "my granddaughter", "my mum", "my eldest"]
SERVICES = ["Citizens Advice", "the council", "the housing association", "the foodbank",
            "the talking therapies service", "the jobcentre", "the carers' centre",
            "the debt advice line", "the energy company"]
PLACES = ["the library", "the community centre", "the surgery", "the church hall",
          "the leisure centre", "the family hub", "the café on the high street"]

# --------------------------------------------------------------------------------------------
# Interview banks. {lw} link worker, {group}, {relative}, {service}, {place}, {friend}
# --------------------------------------------------------------------------------------------
INTRO_PROMPTS = [
    "Thanks for agreeing to talk to me. Could you start by telling me how you came to see the "
    "link worker?",
    "Thank you for making the time. Can you tell me a bit about how you ended up being referred?",
    "Before we start properly, can you tell me how you first heard about the link worker?",
    "So, to begin with, what was going on for you when you were referred?",
    "Can we start at the beginning: who suggested you see a link worker, and why?",
]

REFERRAL_WHO = [
    "It was the GP that suggested it.", "The doctor mentioned it when I went in about my tablets.",
    "The nurse at the surgery put me forward.", "My daughter found out about it and pushed me.",
    "The receptionist gave me a leaflet, to be honest.",
    "I'd been going back and forth to the doctor and in the end he said try this.",
    "It came through the practice, I think the pharmacist flagged it.",
    "My neighbour had seen one and she said ask for it.",
]

REASON_STORY = {
    "loneliness": [
        "I'd not really spoken to anyone for weeks, apart from the man in the shop.",
        "Since I retired the days were just very long and very quiet.",
        "I was on my own a lot and it was getting to me.",
        "Everyone I used to knock about with has either moved away or passed on.",
    ],
    "low mood": [
        "I'd been feeling really low, not getting dressed some days.",
        "My mood was rock bottom and the tablets weren't touching it.",
        "I was just flat, nothing seemed worth the effort.",
        "I kept crying over nothing and I didn't know why.",
    ],
    "anxiety": [
        "My nerves were shot, I couldn't go into a shop without my heart going.",
        "I was worrying about everything all the time.",
        "The anxiety had got so bad I'd stopped going out.",
    ],
    "debt": [
        "I'd got into a mess with money, letters I couldn't open.",
        "The debts were piling up and I was hiding from the door.",
        "I owed on the council tax and the catalogue and it had all snowballed.",
    ],
    "housing": [
        "The flat was damp and the landlord wasn't doing anything.",
        "I was worried we'd lose the house.",
        "We'd been moved into temporary accommodation and it was grim.",
    ],
    "bereavement": [
        "I lost my husband two years ago and I'd sort of stopped living.",
        "After my mum died I just couldn't get going again.",
        "My wife passed and I didn't know what to do with myself.",
    ],
    "long-term condition": [
        "With my COPD I can't do what I used to and that gets you down.",
        "The diabetes was all over the place because I wasn't looking after myself.",
        "My back means I'm stuck in a lot, and the pain wears you down.",
    ],
    "caring responsibilities": [
        "I look after my husband full time and I'd lost myself in it.",
        "Caring for Mum on my own was taking everything I had.",
    ],
    "benefits": [
        "My benefits had been stopped and I didn't understand why.",
        "I'd been turned down for PIP and I didn't have the energy to fight it.",
    ],
    "employment": [
        "I'd lost my job and I didn't know where to start.",
        "I was signed off work and it felt like it would never end.",
    ],
}

FIRST_MEETING_PROMPTS = [
    "What was it like when you first met {lw_ref}?",
    "Can you tell me about the first appointment?",
    "How did that first meeting go?",
]
FIRST_MEETING_NEUTRAL = [
    "It was at {place}, in a little room at the back. I was a bit nervous going in.",
    "We met at {place}. I didn't really know what to expect, I thought it'd be another form.",
    "It was a phone call first and then we met at {place} the week after.",
    "It was fine. I didn't know what a link worker was, I'll be honest, I thought it was "
    "something to do with the council.",
    "I nearly didn't go. I sat in the car park for ten minutes. But it was alright in the end.",
]

NEUTRAL_EXCHANGES = [
    ("How often did you see {lw_ref}?",
     ["It was every couple of weeks to start with, then once a month.",
      "Maybe five or six times altogether, and a few phone calls in between.",
      "Not that often really, but she'd ring to check in.",
      "Weekly at first. Then it tailed off, which was right, I didn't need it as much."]),
    ("What did you make of the questionnaires you filled in?",
     ["To be honest, I never know what to put on those. Some days I'd put something different.",
      "They were alright. Some of the questions were a bit strange, like how often I felt "
      "useful, I mean, useful to who?",
      "I just ticked what felt right on the day. I don't think they tell you much.",
      "I didn't mind them. It was quite interesting seeing the numbers go up, actually."]),
    ("What's a typical week like for you at the moment?",
     ["I've got a bit more of a routine now. Mondays I do my shopping, Wednesdays are busy.",
      "Some weeks are better than others. I try to get out every day even if it's just to "
      "the shop.",
      "Quiet, mostly. I watch a lot of telly. But I'm up and dressed, which is something.",
      "It's the weekends that are hardest. Weekdays there's more going on."]),
    ("What did you do before all this, for work or whatever?",
     ["I was a care assistant for twenty-odd years, until my back went.",
      "I drove buses. Then the depot shut and I never really found anything else.",
      "I worked in the school kitchen. I loved it, the kids were a laugh.",
      "Bits and pieces. Cleaning, shop work. Nothing that lasted."]),
    ("How have you been sleeping?",
     ["Up and down. I still wake at four some mornings.",
      "Better than I was, though I still have the radio on to drop off.",
      "Not brilliant. But then I never have, even when I was younger."]),
    ("Where did you usually meet?",
     ["At the surgery mostly, in the room upstairs. Once or twice at the café.",
      "She came to the house the first time because I wasn't getting out then.",
      "Over the phone to begin with, then in person once I felt up to it."]),
    ("Is the support still going on now?",
     ["No, we finished a few weeks ago. She said I can ring if I need her.",
      "I've got one more session booked, then that's it.",
      "Not formally, but I see her at the coffee morning sometimes and we have a word."]),
    ("Did you know about any of these things before?",
     ["No, not a clue. You don't, do you, unless someone tells you.",
      "I'd seen posters but I never thought it was for people like me.",
      "A couple of them, but I'd never have gone on my own."]),
]

_COMPLETER_ONLY = {"How often did you see {lw_ref}?", "Is the support still going on now?"}

THEME_PROMPTS = {
    "space_to_think": [
        "What did the sessions give you, if anything?",
        "What was different about talking to {lw_ref} compared with other appointments?",
        "How did you feel after a session?",
    ],
    "hope": [
        "How do you feel about the months ahead?",
        "Has anything changed in how you see things going forward?",
        "Where do you see yourself in, say, a year?",
    ],
    "valued_not_alone": [
        "How did {lw_ref} make you feel?",
        "What mattered most to you about the support?",
        "Can you say more about what that meant to you?",
    ],
    "social_connection": [
        "Did {lw_ref} put you in touch with anything?",
        "Are you doing anything now that you weren't doing before?",
        "Tell me about the activities you've tried.",
    ],
    "family_dynamics": [
        "Has anyone around you noticed a difference?",
        "How have things been at home?",
        "What about your family, has any of this affected them?",
    ],
    "trust_services": [
        "How do you feel about the surgery now?",
        "Has it changed how you feel about asking for help from the GP or the council?",
        "What about other services, have you been in touch with any?",
    ],
    "being_listened_to": [
        "What was {lw_ref} like?",
        "What was it about the way {lw_ref} worked that helped, if anything?",
    ],
    "practical_support": [
        "Did {lw_ref} help with anything practical?",
        "You mentioned money worries earlier. Did anything happen with that?",
        "Was there help with things like forms or the house?",
    ],
    "waiting_lists": [
        "Was there anything that didn't work so well?",
        "Were there any delays or problems getting help?",
    ],
    "transport_cost": [
        "Was there anything that made it hard to get to things?",
        "Did anything get in the way of going along?",
    ],
    "digital_exclusion": [
        "Some people mention online forms or apps. Was that an issue for you?",
        "How did you find booking things and keeping in touch?",
    ],
    "distress_disclosure": [
        "You said things were very hard before. Are you comfortable saying a bit more about "
        "that? Only if you want to.",
        "How bad had things got, before the referral? Take your time.",
    ],
}

#: Sentences that express each theme. A passage picks two to four of them. Every sentence of a
#: passage is on-theme, so the whole passage is the coded segment.
THEME_SENTENCES = {
    "space_to_think": [
        "It was the first time in years anyone gave me room to just think.",
        "I could actually hear myself think in there.",
        "She never rushed me, so I had time to work out what I actually wanted.",
        "It's like she gave me permission to stop and take a breath.",
        "I'd come out and sit on the bench outside and things felt a bit clearer in my head.",
        "Before, my head was like a washing machine, everything going round and round.",
        "Talking it through, I realised half of what I was worried about I could sort myself.",
        "It gave me a bit of space to step back from it all.",
        "I started writing things down after, which I'd never have done before.",
        "It wasn't that anything changed overnight, it was more that I could think straight "
        "for once.",
        "Just having that hour where nobody wanted anything from me, that was the thing.",
        "I'm still the same person, I still have bad days, but I can step back and think now.",
        "Nobody had ever asked me what I wanted, so I'd never stopped to think about it.",
    ],
    "hope": [
        "For the first time in a long while I could see a way forward.",
        "I've actually got things to look forward to now.",
        "I'm making plans again, little ones, but plans.",
        "There's a bit of light at the end of the tunnel, put it that way.",
        "I honestly thought this was it for me, and now I don't think that.",
        "I'm thinking about doing a course in the new year, which I'd never have said before.",
        "I feel more optimistic, I suppose is the word.",
        "Next summer I want to go and see my cousin in Wales, and I think I will.",
        "I've started to think things might actually get better.",
        "It's given me hope, really, that's the only way I can put it.",
        "I've booked a little holiday, first one in six years.",
        "I can see myself going back to work eventually, part time maybe.",
    ],
    "valued_not_alone": [
        "She made me feel like I mattered, like I wasn't just a number.",
        "I didn't feel so alone with it all.",
        "Knowing somebody was on my side made all the difference.",
        "She remembered things I'd said weeks before, and that made me feel cared about.",
        "I felt like a person again, not a problem.",
        "It was like having someone in my corner for once.",
        "I always felt like I was a bother to people, and she never made me feel like that.",
        "Just knowing I wasn't the only one going through it, that helped.",
        "When she said “you’re not on your own with this”, I nearly cried.",
        "I felt valued, and I can't remember the last time I'd felt that.",
        "She rang me on my birthday, which she didn't have to do.",
        "I'm not used to people being kind to me without wanting something.",
    ],
    "social_connection": [
        "I go to {group} every week now and we have a coffee after.",
        "I've made a couple of friends there, proper friends, we text each other.",
        "I'd not been out of the house in months and now I've got somewhere to be on a Tuesday.",
        "There's a lady at {group} who picks me up now, so I never miss it.",
        "I was so lonely before, and now I'm not, not like I was.",
        "Meeting people who'd been through the same thing, that's what did it.",
        "We've started going for a pint after the group, a few of us.",
        "I know my neighbours now, which sounds daft but I didn't before.",
        "She took me along to {group} the first time so I didn't have to walk in on my own.",
        "I help out at {group} now, setting up the chairs and doing the teas.",
        "The loneliness was the worst of it, and having people to talk to has changed that.",
        "Having company a couple of times a week, it breaks the week up.",
        "{friend} from the group rings me most days now.",
    ],
    "family_dynamics": [
        "{relative} says I'm more like my old self.",
        "We actually talk now, at home, instead of just arguing.",
        "I was taking it all out on {relative}, and that's stopped.",
        "My grandchildren come round more, because I'm in a better place to have them.",
        "{relative} had been doing everything for me and now I'm doing more for myself, which "
        "has taken the pressure off them.",
        "We had a proper family meal at Christmas, first time in years.",
        "{relative} came with me to one of the sessions and I think it helped them understand.",
        "I've started to say no to the family sometimes, which they weren't used to.",
        "Things with {relative} are better, we're not walking on eggshells.",
        "The kids noticed. My youngest said “Mum, you’re laughing again”.",
    ],
    "trust_services": [
        "I'd given up on the surgery, but now I'll ring them if I need to.",
        "I didn't trust the council after what happened with the flat, but she showed me they "
        "can help if you go the right way about it.",
        "I'd stopped going to the GP because I felt like I was wasting their time.",
        "Now I feel like the doctors actually know who I am.",
        "She came with me to the jobcentre and for once I felt like they listened.",
        "I'd have never gone back to the mental health team on my own, I'd had a bad "
        "experience, but I did, and it was different this time.",
        "It's made me less frightened of ringing people up, official people.",
        "I used to think the system was against me, and I don't feel that so much now.",
        "I went back to the GP about my chest, which I'd been putting off for a year.",
        "Having her there made the appointment with the council feel less like a fight.",
    ],
    "being_listened_to": [
        "She just let me talk, she didn't keep looking at the clock.",
        "I felt listened to, properly listened to.",
        "She never judged me, not once, even when I told her about the drinking.",
        "She went at my pace, there was no pushing.",
        "It was the way she listened, she'd repeat things back so I knew she'd heard.",
        "With the doctor you get ten minutes, with {lw_ref} it was as long as it took.",
        "She was down to earth, no jargon, she talked to me like a normal person.",
        "I could say anything to her and she wouldn't bat an eyelid.",
    ],
    "practical_support": [
        "She helped me fill in the PIP form, which I'd been dreading.",
        "She rang {service} for me about the debt and got a payment plan sorted.",
        "She got the council to come out about the damp.",
        "We went through all my bills together and made a list.",
        "She got me a foodbank voucher the first week, because I had nothing in.",
        "She sorted out my council tax arrears, or got {service} to.",
        "She helped me appeal my Universal Credit decision and we won.",
        "She found out I was entitled to the warm home discount.",
        "She wrote a letter to the housing association, and they moved me up the list.",
    ],
    "waiting_lists": [
        "The only thing was the waiting. It was six weeks before I first saw her.",
        "She referred me for counselling but the waiting list was months.",
        "There was a long gap over the summer when she was off and nobody covered.",
        "I'm still waiting for the physio she put me in for.",
        "By the time the appointment came through I'd nearly given up.",
        "Everything has a waiting list, doesn't it. Everything.",
    ],
    "transport_cost": [
        "The group is two buses away and I can't afford that every week.",
        "I don't drive, and the buses round here are hopeless after four.",
        "Some of the classes cost money, and when you're on benefits that's a lot.",
        "Taxis are out of the question on what I get.",
        "The swimming was a fiver a go, which doesn't sound much but it adds up.",
    ],
    "digital_exclusion": [
        "Everything's online now and I haven't got a computer.",
        "They kept saying book it on the app, and I've only got a phone that does calls.",
        "I can't do the online forms, I get halfway and it times out.",
        "The group went on Zoom for a while and I just couldn't get it to work.",
        "My granddaughter has to do anything with email for me.",
    ],
    "distress_disclosure": [
        "There were nights I didn't see the point of carrying on.",
        "I'd stopped eating properly, stopped washing, I just didn't care any more.",
        "I'd had thoughts about ending it, I'm not ashamed to say it now.",
        "It was a very dark time. I couldn't cope with anything.",
        "I was crying every day and I couldn't tell anyone.",
        "He used to shout at me, and worse, and I never told anyone until her.",
        "I didn't want to be here, to be honest with you.",
    ],
}

#: Words said before and after an on-theme passage, inside the same participant turn. They are
#: not part of the coded segment (a second coder sometimes includes them: boundary variation).
LEAD_INS = ["Oh, definitely.", "Well,", "Honestly?", "I suppose,", "Hmm, let me think.",
            "Yes.", "It's hard to explain.", "I'll be honest with you.", "Mm.",
            "Where do I start.", "That's a good question.", "Right, so,"]
TAILS = ["You know?", "If that makes sense.", "That's how I'd put it anyway.", "Yeah.",
         "I don't know if that answers it.", "Anyway.", "That's the main thing.",
         "It sounds silly saying it out loud.", "I can't explain it better than that."]

#: Neutral asides appended to uncoded answers so that ordinary talk varies between
#: transcripts. None of them expresses a coded theme.
ASIDES = [
    "My knees aren't what they were, mind.", "The weather didn't help, it rained for weeks.",
    "I'd never been in that building before.", "I remember because it was my grandson's "
    "birthday.", "That was around Easter, I think.", "Don't quote me on the dates.",
    "I'm not one for fuss, never have been.", "The car was off the road at the time as well.",
    "It's all a bit of a blur now, that stretch.", "I had the dog to think about too.",
    "That sounds daft, I know.", "My memory's terrible, so I might have that wrong.",
    "I'd just had the boiler replaced, so it was chaos at home.", "It was a Wednesday, "
    "I think, or a Thursday.", "I'd been meaning to say that to someone.",
    "I still have the leaflet somewhere.", "It's funny how things work out.",
    "There's always something, isn't there.", "I was on nights back then.",
    "I've lived round here forty years, so I know most of the places.",
    "It was just after the clocks went back.", "I don't like making a song and dance.",
    "You'd have to ask my daughter, she's better with dates.", "I'm a creature of habit.",
    "We'd had a lot going on with the grandkids.", "I'd not long moved into the flat.",
    "The buses were on strike for part of it.", "I was off my food a bit around then.",
    "It's not a big place, the surgery.", "I get muddled with all the different names.",
]

NONE_REPLIES = ["Not really, no. It was all pretty straightforward.",
                "Nothing I can think of. I was lucky, I think.",
                "No, not that I can remember."]

NONCOMPLETER_STORY = [
    "I stopped going after a couple of sessions, if I'm honest.",
    "I didn't carry on with it in the end.",
    "I only saw her twice and then things got on top of me again.",
]
NONCOMPLETER_REASONS = [
    "I moved in with my sister for a bit and it all fell by the wayside.",
    "My health took a turn and I was in and out of hospital.",
    "I just couldn't face it. Some weeks you can't face anything.",
    "It wasn't really for me. I don't think I was ready.",
    "My shifts changed and I couldn't make the times.",
]

CLOSING_PROMPTS = ["Is there anything else you'd like to tell me?",
                   "Before we finish, is there anything we haven't covered?",
                   "Anything you'd want the people running the service to hear?"]
CLOSING_REPLIES = [
    "Just that it should be for everybody, not just the ones the doctor happens to pick.",
    "Keep it going. Don't let them cut it, that's all I'd say.",
    "No, I think we've covered it. Thank you for asking me.",
    "Only that I'd recommend it. I already have, to my neighbour.",
    "I'd say give the link workers more time. They're stretched, you can see it.",
    "Nothing else. It's been nice to talk about it, actually.",
]
THANKS = ["Thank you, that's really helpful.", "Thanks so much for your time.",
          "That's everything. Thank you."]


# --------------------------------------------------------------------------------------------
# Text builder with offsets
# --------------------------------------------------------------------------------------------
@dataclass
class CodedSpan:
    """A coded passage with the alternative boundaries a second coder might choose.

    ``start``/``end`` are Unicode character offsets (0-based, end exclusive). ``wide_start``
    includes the lead-in words before the passage, ``wide_end`` the words after it, and
    ``sentence_ends`` holds the end offset of each sentence of the passage (a coder may stop
    after the first sentences).
    """

    code: str
    start: int
    end: int
    wide_start: int
    wide_end: int
    sentence_ends: list[int] = field(default_factory=list)


class TextBuilder:
    """Append text pieces and record where each coded passage starts and ends.

    Python ``str`` indexes count Unicode code points, which is exactly the REFI-QDA offset
    unit, so ``len()`` of the text written so far is the offset of the next character.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._len = 0
        self.spans: list[CodedSpan] = []

    def add(self, text: str) -> tuple[int, int]:
        start = self._len
        self._parts.append(text)
        self._len += len(text)
        return start, self._len

    def turn(self, speaker: str, text: str) -> None:
        self.add(f"{speaker}: {text}\n\n")

    def coded_turn(self, speaker: str, lead: str, sentences: list[str], tail: str,
                   code: str) -> None:
        """A turn whose middle (the sentences) is one coded passage."""
        wide_start, _ = self.add(f"{speaker}: ")
        if lead:
            self.add(lead + " ")
        start = self._len
        ends = []
        for i, sentence in enumerate(sentences):
            if i:
                self.add(" ")
            ends.append(self.add(sentence)[1])
        end = self._len
        wide_end = end
        if tail:
            wide_end = self.add(" " + tail)[1]
        self.add("\n\n")
        self.spans.append(CodedSpan(code, start, end, wide_start + len(speaker) + 2, wide_end,
                                    ends))

    @property
    def text(self) -> str:
        return "".join(self._parts)


def _pick(rng: np.random.Generator, bank: list[str]) -> str:
    return bank[int(rng.integers(len(bank)))]


def _fill(text: str, slots: dict[str, str]) -> str:
    return text.format(**slots) if "{" in text else text


def _say(rng: np.random.Generator, text: str) -> str:
    """An uncoded answer, sometimes followed by a neutral aside."""
    return text + " " + _pick(rng, ASIDES) if rng.random() < 0.65 else text


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# --------------------------------------------------------------------------------------------
# Interviews
# --------------------------------------------------------------------------------------------
def interview(rng: np.random.Generator, *, participant_id: str, site: str, date: str,
              link_worker_name: str, reasons: list[str], themes: list[str], completer: bool,
              identifiers: dict[str, str] | None = None,
              emoji: bool = False) -> tuple[str, list[CodedSpan]]:
    """Build one semi-structured interview transcript.

    Parameters
    ----------
    rng : numpy Generator, consumed in a fixed order (deterministic for a seed).
    participant_id, site, date : shown in the header line.
    link_worker_name : the link worker's first name (listed in names.txt).
    reasons : referral reasons (keys of :data:`REASON_STORY`).
    themes : codes this person voices; each gets one coded participant turn.
    completer : False for people who stopped before follow-up (adds why they stopped).
    identifiers : planted identifiers to mention, ``{kind: text}``; kinds ``name``,
        ``name_with_title``, ``phone``, ``nhs_number``, ``email``, ``postcode``,
        ``date_of_birth``. They are placed in uncoded turns.
    emoji : put :data:`EMOJI` in an uncoded turn near the start.

    Returns
    -------
    text : str
    spans : list of :class:`CodedSpan`, one per theme, in text order.
    """
    identifiers = identifiers or {}
    mention_name = rng.random() < 0.6
    slots = {
        "lw_ref": link_worker_name if mention_name else "the link worker",
        "group": _pick(rng, GROUPS), "relative": _pick(rng, RELATIVES),
        "service": _pick(rng, SERVICES), "place": _pick(rng, PLACES),
        "friend": _pick(rng, OTHER_NAMES),
    }
    b = TextBuilder()
    b.add(f"Interview transcript — participant {participant_id}, {site}, {date}\n\n")
    b.turn("Interviewer", _pick(rng, INTRO_PROMPTS))

    # Referral story: who suggested it, then one or two of the person's referral reasons.
    story = [_pick(rng, REFERRAL_WHO)]
    known = [r for r in reasons if r in REASON_STORY]
    for r in (list(rng.permutation(known))[:2] if known else []):
        story.append(_pick(rng, REASON_STORY[str(r)]))
    if "distress_disclosure" not in themes and rng.random() < 0.5:
        story.append("It had been building for a long time.")
    b.turn("Participant", " ".join(story))

    if emoji:
        b.turn("Interviewer", "And how did you feel about being referred?")
        b.turn("Participant", f"Nervous. But {link_worker_name} sent me a text the day before "
               f"with a little {EMOJI} on it, and that helped more than you'd think.")

    order = [t for t in themes if t != "distress_disclosure"]
    order = [str(t) for t in rng.permutation(order)] if order else []
    # Distress is disclosed early, when the person describes how things were.
    if "distress_disclosure" in themes:
        order.insert(0, "distress_disclosure")
    # The link-worker relationship, if voiced, answers the question about the first meeting.
    if "being_listened_to" in order:
        order.remove("being_listened_to")
        order.insert(1 if order and order[0] == "distress_disclosure" else 0,
                     "being_listened_to")
    else:
        b.turn("Interviewer", _fill(_pick(rng, FIRST_MEETING_PROMPTS), slots))
        b.turn("Participant", _say(rng, _fill(_pick(rng, FIRST_MEETING_NEUTRAL), slots)))

    if not completer:
        b.turn("Interviewer", "And did you keep going with the sessions?")
        b.turn("Participant", _say(rng, _pick(rng, NONCOMPLETER_STORY) + " "
                                   + _pick(rng, NONCOMPLETER_REASONS)))

    pending_ids = list(identifiers.items())
    neutral = [int(i) for i in rng.permutation(len(NEUTRAL_EXCHANGES))]
    if not completer:  # questions that assume the person kept seeing the link worker
        neutral = [i for i in neutral if NEUTRAL_EXCHANGES[i][0] not in _COMPLETER_ONLY]
    for k, theme in enumerate(order):
        prompt_bank = THEME_PROMPTS[theme]
        if theme == "being_listened_to":
            prompt_bank = FIRST_MEETING_PROMPTS + prompt_bank
        b.turn("Interviewer", _fill(_pick(rng, prompt_bank), slots))
        bank = THEME_SENTENCES[theme]
        n = int(rng.integers(2, 5))
        chosen = [_cap(_fill(bank[int(i)], slots))
                  for i in rng.choice(len(bank), size=min(n, len(bank)), replace=False)]
        lead = _pick(rng, LEAD_INS) if rng.random() < 0.6 else ""
        tail = _pick(rng, TAILS) if rng.random() < 0.5 else ""
        b.coded_turn("Participant", lead, chosen, tail, theme)
        # Uncoded talk between themes: neutral exchanges and, where planted, identifiers.
        if pending_ids and k % 2 == 0:
            _identifier_exchange(b, *pending_ids.pop(0), slots)
        elif neutral and rng.random() < 0.55:
            q, answers = NEUTRAL_EXCHANGES[neutral.pop()]
            b.turn("Interviewer", _fill(q, slots))
            b.turn("Participant", _say(rng, _pick(rng, answers)))
    for kind, value in pending_ids:
        _identifier_exchange(b, kind, value, slots)
    while len(b.text.split()) < 450 and neutral:  # several hundred words at least
        q, answers = NEUTRAL_EXCHANGES[neutral.pop()]
        b.turn("Interviewer", _fill(q, slots))
        b.turn("Participant", _say(rng, _pick(rng, answers)))

    barriers = {"waiting_lists", "transport_cost", "digital_exclusion"}
    if not barriers & set(themes) and rng.random() < 0.5:
        b.turn("Interviewer", "Was there anything that made it harder?")
        b.turn("Participant", _say(rng, _pick(rng, NONE_REPLIES)))
    b.turn("Interviewer", _pick(rng, CLOSING_PROMPTS))
    b.turn("Participant", _say(rng, _pick(rng, CLOSING_REPLIES)))
    b.add(f"Interviewer: {_pick(rng, THANKS)}\n")
    return b.text, b.spans


def _identifier_exchange(b: TextBuilder, kind: str, value: str, slots: dict[str, str]) -> None:
    """An uncoded exchange in which the participant mentions one planted identifier."""
    if kind == "name":
        b.turn("Interviewer", "Who else has been around for you?")
        b.turn("Participant", f"My neighbour {value}, she's been a godsend. She'd pop round "
               "with a bit of dinner when I wasn't eating.")
    elif kind == "name_with_title":
        b.turn("Interviewer", "Did anyone else help you get there?")
        b.turn("Participant", f"{value} from over the road used to drive me the first few "
               "times, bless her.")
    elif kind == "phone":
        b.turn("Interviewer", "How did you keep in touch between sessions?")
        b.turn("Participant", f"She'd ring me on my mobile, {value}, and if I didn't answer "
               "she'd leave a message.")
    elif kind == "nhs_number":
        b.turn("Interviewer", "Was the paperwork straightforward?")
        b.turn("Participant", f"I had to give my NHS number every time, {value}, I know it off "
               "by heart now.")
    elif kind == "email":
        b.turn("Interviewer", "Did they send you information about the groups?")
        b.turn("Participant", f"She emailed it to {value}, that's my granddaughter's doing, "
               "she set it up for me.")
    elif kind == "postcode":
        b.turn("Interviewer", "Where are the groups, are they near you?")
        b.turn("Participant", f"Not far. I'm in {value}, so the community centre is ten "
               "minutes' walk.")
    elif kind == "date_of_birth":
        b.turn("Interviewer", "Do you mind me asking how old you are?")
        b.turn("Participant", f"I was born on {value}, so you can work it out.")
    else:  # pragma: no cover - guarded by demo.py's fixed plan
        raise ValueError(kind)


# --------------------------------------------------------------------------------------------
# Observation notes and documents. Text in [[code_id|...]] is a coded passage.
# --------------------------------------------------------------------------------------------
OBS_SETTING = [
    "The link worker is based in a small consulting room at the back of the practice, shared "
    "with the physiotherapist on Thursdays. There is a box of leaflets by the door and a "
    "noticeboard covered in posters for local groups.",
    "Sessions today took place at the community centre rather than the surgery. The room was "
    "warm, with a kettle and a tin of biscuits; the link worker said people talk more freely "
    "away from the practice.",
    "Spent the morning in the waiting area and the afternoon shadowing the link worker. The "
    "reception staff know her well and send people over directly when the GP has asked.",
    "The practice has three sites; the link worker moves between them and works from "
    "whichever room is free. She keeps her notes on a laptop that does not connect to the "
    "practice system.",
]
OBS_CODED = [
    "[[waiting_lists|The link worker's caseload is full; new referrals are waiting about five "
    "weeks for a first appointment.]] She keeps a list on the wall of people to ring if a slot "
    "comes up.",
    "[[being_listened_to|In the session I observed, the link worker spoke for perhaps a fifth "
    "of the time. She let long silences run and summarised back what the man had said before "
    "suggesting anything.]]",
    "[[practical_support|Most of the afternoon went on a woman's Universal Credit appeal: the "
    "link worker read the decision letter with her, made a list of the evidence needed and "
    "booked a Citizens Advice appointment while she was in the room.]]",
    "[[digital_exclusion|Two of the four people seen today had no smartphone. The link worker "
    "printed timetables for them and wrote the group leader's number on the back.]]",
    "[[transport_cost|Several people said they could not get to the Thursday group because the "
    "bus route was cut last year; a volunteer driver scheme is being discussed.]]",
    "[[social_connection|At the coffee morning I counted eleven people, four of them referred "
    "by the link worker. Two regulars were showing a newcomer how the tea rota works.]]",
    "[[waiting_lists|The link worker said the hardest part of the job is referring people on: "
    "talking therapies currently has a waiting time of four months.]]",
    "[[trust_services|A woman who had not seen a GP for three years agreed, at the end of the "
    "session, to book an appointment if the link worker came with her.]]",
]
OBS_REFLECTIONS = [
    "Reflexive note: I was aware of being an outsider in the room and sat to one side. One "
    "person asked whether I was \u201cfrom the council\u201d, which says something about how "
    "visits are usually experienced.",
    "Reflexive note: the link worker seemed more formal on the first day I was there and "
    "relaxed by the second week. Early observations should be read with that in mind.",
    "The GP partners describe the service warmly, but two of the salaried GPs I spoke to were "
    "unsure what the link worker does or how to refer.",
    "The link worker records each contact in a spreadsheet; the questionnaires are done on "
    "paper at the first and last session and typed up later by the practice administrator.",
]


def _parse_marked(text: str) -> tuple[str, list[tuple[str, int, int]]]:
    """Strip ``[[code|passage]]`` marks, returning the text and (code, start, end) spans."""
    out, spans, pos, i = [], [], 0, 0
    while True:
        j = text.find("[[", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        pos += j - i
        bar = text.index("|", j)
        close = text.index("]]", bar)
        code, passage = text[j + 2:bar], text[bar + 1:close]
        out.append(passage)
        spans.append((code, pos, pos + len(passage)))
        pos += len(passage)
        i = close + 2
    return "".join(out), spans


def observation(rng: np.random.Generator, *, site: str, week: int, date: str,
                researcher: str) -> tuple[str, list[tuple[str, int, int]]]:
    """Field notes from one observation visit. Returns (text, [(code, start, end), ...])."""
    paras = [_pick(rng, OBS_SETTING)]
    paras += [OBS_CODED[int(i)] for i in rng.choice(len(OBS_CODED), size=3, replace=False)]
    paras.append(_pick(rng, OBS_REFLECTIONS))
    body = "\n\n".join(paras)
    header = (f"Observation notes — {site}, week {week} of 3\nResearcher: {researcher}\n"
              f"Date: {date}\n\n")
    text, spans = _parse_marked(header + body + "\n")
    return text, spans


DOCUMENT_TEXTS = {
    "referral_form": (
        "Social prescribing referral form (template)\n\n"
        "Referrer name: ____________    Practice: ____________    Date: ___/___/______\n"
        "Patient identifier (practice use only): ____________\n\n"
        "Reason(s) for referral (tick all that apply):\n"
        "[ ] Loneliness or social isolation\n[ ] Low mood or anxiety\n"
        "[ ] Debt or money worries\n[ ] Housing\n[ ] Benefits\n[ ] Bereavement\n"
        "[ ] Long-term condition self-management\n[ ] Caring responsibilities\n"
        "[ ] Employment, training or volunteering\n\n"
        "What matters to the patient (in their words): "
        "____________________________________________\n\n"
        "Has the patient agreed to be contacted by a link worker?  Yes / No\n"
        "Preferred contact: phone / letter / text\n\n"
        "Please note: [[waiting_lists|the service currently aims to make first contact within "
        "two weeks; at busy times this may be longer.]] Urgent mental health needs should "
        "not be referred here: use the crisis pathway.\n"
    ),
    "leaflet": (
        "Feeling stuck? Talk to a link worker.\n\n"
        "Link workers are part of your GP practice team. They have time to talk to you about "
        "what matters to you and can connect you with local groups, activities and advice.\n\n"
        "We can help with:\n"
        "\u2022 [[practical_support|money worries, debt and benefits forms, housing problems "
        "and getting help with bills]]\n"
        "\u2022 [[social_connection|finding groups and activities nearby, from walking groups "
        "to community cafés, so you can meet people]]\n"
        "\u2022 feeling low, lonely or overwhelmed\n\n"
        "[[being_listened_to|Appointments last up to an hour. You set the pace, and we "
        "listen.]] You can see us at the surgery, at a community venue or by phone.\n\n"
        "Ask at reception, or ask your GP, nurse or pharmacist to refer you.\n"
    ),
    "steering_minutes": (
        "Social prescribing steering group: minutes (extract)\n\n"
        "Present: practice manager, two GP partners, link worker lead, voluntary sector "
        "representative, PCN clinical director.\n\n"
        "1. Referrals. Referrals rose again this quarter. [[waiting_lists|The wait for a first "
        "appointment is now around five weeks at the larger practices.]] The group agreed to "
        "ask the PCN about funding for a further link worker.\n\n"
        "2. Onward services. [[waiting_lists|Talking therapies and the community mental health "
        "team both report long waits, which link workers are being asked to fill.]] Concern "
        "was raised about link workers holding people with complex needs.\n\n"
        "3. Evaluation. The university team will observe at each site for three weeks. "
        "Questionnaires are collected at referral and at around three months. "
        "[[digital_exclusion|Online completion was trialled but dropped because many "
        "patients could not use it.]]\n\n"
        "4. Any other business. The bus route to the Thursday group has been withdrawn; the "
        "voluntary sector representative will look into volunteer drivers.\n"
    ),
}

DOCUMENTS = [
    ("referral_form", "Referral form template"),
    ("leaflet", "Link worker service leaflet"),
    ("steering_minutes", "Steering group minutes (extract)"),
]


def documents() -> list[tuple[str, str, str, list[tuple[str, int, int]]]]:
    """The service documents: [(key, title, text, [(code, start, end), ...]), ...]."""
    out = []
    for key, title in DOCUMENTS:
        text, spans = _parse_marked(DOCUMENT_TEXTS[key])
        out.append((key, title, text, spans))
    return out
