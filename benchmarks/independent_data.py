"""Independent UK-like linkage scenarios: a hold-out stand-in that is not ``nislink.synth``.

    python benchmarks/independent_data.py --scenario la_dwp --seed 7 --out DIR [--scale 1.0]
    python benchmarks/independent_data.py --scenario la_moj --seed 7 --out DIR

writes ``a.csv``, ``b.csv``, ``truth.csv`` (``id_a,id_b``) and ``README.txt`` into DIR. From
Python, :func:`make_scenario` returns ``(df_a, df_b, truth_df)`` and :func:`generate` returns
the same with an error log (one row per applied error or naming convention).

This module imports nothing from nislink, on purpose: nislink is developed against
``nislink.synth``, and a linker tuned to one generator's assumptions can look better than it
is. Everything below was written from different assumptions (hand-written name lists by
origin, not ONS cohort tables; one person object rendered once per file under that file's
conventions, not a vectorised corruption pass; an edit-based typo model, not keyboard
neighbours). Nothing here was tuned to make any linker look good.

Assumptions (all rough, all stated; "record" = one row of one file)
---------------------------------------------------------------------
Population, by the origin of a household's names (England, Census 2021 shares rounded,
with Mixed, Caribbean and English-named White Other folded into "british"):

    british 0.827   irish 0.020   pakistani 0.027   bangladeshi 0.011   gujarati 0.014
    sikh 0.009      indian_other 0.012   polish 0.012   romanian 0.009
    european_other 0.020   west_african 0.018   somali 0.004   chinese 0.007
    middle_eastern 0.010

Of couples, 6% have a partner whose names come from another origin. Households: single
adults, couples, couples or lone parents with children (1 + Poisson children; mean 0.8
extra for most origins, 1.6 for South Asian and Somali), and three-generation households
(4% of British, 20% of South Asian households). Ages 0-95 at the reference date
2025-03-31; mother's age at first birth N(28, 5) in [16, 42]; partner age gap N(2.5, 4).
Households are drawn with weight share / mean household size, so people (not households)
follow the shares above. The result is younger than England, as an LA's caseload is
(about 16% aged 0-9, 10% aged 70 or over).
Twins: 1.5% of births. "Junior": 3% of British, Irish and West African couples with a son
give the eldest son the father's forename. Postcodes: invented areas KR (the local
authority, 22 districts) and neighbours BW, HT, GX, PD; postcode units are shared by
several households (about 9 people of the LA file per postcode at full scale). NINO:
everyone 16 or over has one (valid prefixes, suffix A-D).

Names
    British surnames: a hand-written list of about 270 with rough frequencies (30% of
    British-named people; Smith 1.45% of them, Jones 1.1%, Williams 0.9%, ...); the other
    70% come from about 7,300 composed English-looking surnames (root + ending, log-normal
    weights), so that exact surname agreement is about as informative as in England.
    Other origins: lists of 20-50 surnames each with relative weights; Patel is 30% of
    Gujarati surnames, Shah 8%; Khan, Hussain, Ahmed and Ali together 43% of Pakistani
    surnames; Miah, Uddin, Rahman, Ahmed and Islam 56% of Bangladeshi family names.
    British forenames are in three birth eras (before 1960, 1960-89, 1990 on); 75% of
    British people have a middle name.

Conventions and errors, as rates (per record unless stated)
    Sikh: men have Singh, women Kaur; 70% of families also have a family name (Sandhu,
    Gill, ...). A person's own usual form is one of (forename, family), (forename,
    Singh/Kaur), (forename, "Kaur Sandhu"), ("Harpreet Kaur", family). A record uses a
    different form at rate sikh_alt.
    Begum/Bibi/Khatun: Bangladeshi adult women 100% carry Begum (70%) or Khatun (30%),
    Pakistani women 35% carry Bibi or Begum; usual form one of (forename, Begum), (forename,
    family), ("Rokeya Begum", family); a record uses another at rate begum_alt.
    "Mohammed X": 40% of Pakistani and Bangladeshi men and 10% of Middle Eastern men have
    Mohammed (and another 10% of Pakistani and Bangladeshi men Abdul) as a first given name
    and are called by the second; a person's usual form is "Mohammed" (30%),
    "Mohammed X" (30%), "X" (30%) or "X Mohammed" (10%), and a record uses another at rate
    mohammed_alt; Mohammed's spelling is the person's own (Mohammed 50%, Muhammad 22%,
    Mohammad 14%, Mohamed 8%, Mohd 3%, Md 3%; Md for a quarter of Bangladeshi men) and
    varies per record at rate mohammed_spelling.
    Somali names: own name + father's name + grandfather's name as surname, so a child's
    surname is the father's father's name, not the father's surname.
    Gujarati: the middle name is the father's (a wife's, the husband's) forename; adults'
    forenames take -bhai/-ben at rate gujarati_suffix.
    Middle name used as forename: 3% of British people go by their middle name (a record
    uses it at rate known_name); other records at rate middle_as_forename.
    Short forms (Liz, Kate, Bill, Bob, Peggy, Jim, Kasia, Seun, ...): rate short_form where
    the forename has one. Initial only: rate initial.
    Accents (Zoë, Siân, Seán, Łukasz, Ștefan, João): stripped at rate strip_accents.
    Apostrophes (O'Brien): kept, dropped (OBrien) or spaced (O Brien) per file.
    Double-barrelled surnames (1.2% of British families; 15% of children whose parents keep
    different surnames): one part only at rate dbl_partial, no hyphen at rate dbl_nohyphen.
    Polish -ska/-cka women written with the masculine form at rate polish_form.
    Married women who took the partner's surname: recorded with the maiden surname at rate
    maiden. Chinese people: 25% have an English name, used at rate english_name.
    Transliteration variants (Hussain/Hussein, Chowdhury/Choudhury, ...): translit.
    Forename and surname swapped: swap (Chinese names: swap_chinese).
    Typos: one edit per affected field (omit a letter 30%, double one 15%, swap two
    adjacent 20%, another vowel 15%, another letter 10%, insert a letter 10%).
    Dates of birth (mutually exclusive): day/month swap (where day <= 12 and differs from
    the month), off by one day, off by one year, one digit changed, day unknown recorded as
    the 1st (a fifth of these as 1 January), missing.
    Postcodes: the household moved between the two extracts (moved, per household; 60% of
    moves stay in the district), one-character typo, missing (MoJ: half of them NFA).
    Sex: missing or miscoded. Case: upper/lower; stray whitespace.
    MoJ aliases: 22% of linked MoJ records carry an alias: another surname (mother's or a
    former partner's), another forename, a spelling variant or the middle name.
    The rates of each file are in PROFILES and written to README.txt.

Scenarios
    la_dwp: LA 50,000 people (whole households) and DWP 60,000 records: 75% of LA people
    (adults 80%, children 62%), the rest other people of the region, 6% of them
    "namesakes" (same name as an LA person, date of birth 0-15 years away). Moderate errors;
    households moved between extracts 10%.
    la_moj: LA 20,000 and MoJ 8,000 records: 4,400 are LA people aged 10+ (men four times
    as likely as women, peak 18-35), the rest others (8% namesakes). Aliases, higher error
    rates, more missing values; moved 30%.
Each person appears at most once per file; truth is one-to-one.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import math
import random
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "REFERENCE_DATE",
    "GROUP_SHARES",
    "PROFILES",
    "SCENARIOS",
    "COLUMNS",
    "Scenario",
    "generate",
    "make_scenario",
    "write_scenario",
    "main",
]

REFERENCE_DATE = dt.date(2025, 3, 31)

# ---------------------------------------------------------------------------------------
# Name data. Written for this module; weights are rough relative frequencies.
# ---------------------------------------------------------------------------------------


def _weighted(text: str) -> list[tuple[str, float]]:
    """'Smith 1150, Jones 900' -> [('Smith', 1150.0), ('Jones', 900.0)]."""
    out = []
    for item in text.split(","):
        item = item.strip()
        if item:
            name, w = item.rsplit(" ", 1)
            out.append((name.strip(), float(w)))
    return out


def _ranked(text: str, first: float = 1.0, last: float = 0.15) -> list[tuple[str, float]]:
    """Names in rough order of popularity; weights fall geometrically from first to last."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    k = len(names)
    if k == 1:
        return [(names[0], first)]
    r = (last / first) ** (1.0 / (k - 1))
    return [(n, first * r**i) for i, n in enumerate(names)]


GROUP_SHARES: dict[str, float] = {
    "british": 0.827,
    "irish": 0.020,
    "pakistani": 0.027,
    "bangladeshi": 0.011,
    "gujarati": 0.014,
    "sikh": 0.009,
    "indian_other": 0.012,
    "polish": 0.012,
    "romanian": 0.009,
    "european_other": 0.020,
    "west_african": 0.018,
    "somali": 0.004,
    "chinese": 0.007,
    "middle_eastern": 0.010,
}
SOUTH_ASIAN = ("pakistani", "bangladeshi", "gujarati", "sikh", "indian_other")
MUSLIM = ("pakistani", "bangladeshi", "somali", "middle_eastern")

_BRITISH_SURNAMES = _weighted("""
Smith 1150, Jones 900, Williams 700, Taylor 580, Brown 560, Davies 520, Evans 400,
Wilson 390, Thomas 370, Johnson 350, Roberts 340, Robinson 300, Thompson 295, Wright 290,
Walker 280, White 270, Edwards 265, Hughes 260, Green 255, Hall 250, Lewis 245, Harris 240,
Clarke 235, Jackson 225, Wood 220, Turner 215, Martin 210, Cooper 205, Hill 200, Ward 195,
Morris 190, Moore 185, Clark 180, Lee 180, King 175, Baker 170, Harrison 165, Morgan 160,
Allen 158, James 155, Scott 150, Phillips 148, Watson 145, Davis 140, Parker 138,
Price 135, Bennett 130, Young 128, Griffiths 126, Mitchell 124, Kelly 122, Cook 120,
Carter 118, Richardson 115, Bailey 112, Collins 110, Bell 108, Shaw 106, Murphy 104,
Miller 102, Cox 100, Richards 98, Marshall 97, Anderson 96, Simpson 95, Ellis 94,
Adams 93, Wilkinson 92, Foster 91, Chapman 90, Powell 89, Webb 88, Rogers 87, Gray 86,
Mason 85, Hunt 84, Campbell 83, Matthews 82, Owen 81, Palmer 80, Holmes 79, Mills 78,
Barnes 77, Knight 76, Lloyd 75, Butler 74, Russell 73, Barker 72, Fisher 71, Stevens 70,
Jenkins 70, Murray 69, Dixon 68, Harvey 67, Graham 66, Pearson 66, Fletcher 65, Walsh 64,
Gibson 63, Howard 63, Andrews 62, Stewart 61, Elliott 61, Reynolds 60, Saunders 60,
Payne 59, Fox 58, Ford 58, Pearce 57, Day 57, Brooks 56, West 56, Lawrence 55, Cole 55,
Atkinson 54, Bradley 54, Spencer 53, Gill 40, Dawson 52, Ball 52, Burton 51, Watts 51,
Rose 50, Booth 50, Perry 49, Ryan 49, Grant 48, Wells 48, Armstrong 47, Francis 47,
Rees 46, Hayes 46, Hart 45, Hudson 45, Newman 44, Barrett 44, Webster 44, Hunter 43,
Gregory 43, Carr 42, Lowe 42, Page 42, Marsh 41, Riley 41, Dunn 41, Woods 40, Parsons 40,
Berry 40, Stone 39, Reid 39, Holland 39, Hawkins 38, Harding 38, Porter 38, Robertson 37,
Newton 37, Oliver 37, Reed 36, Kennedy 36, Williamson 36, Bird 36, Gardner 35, Dean 35,
Lane 35, Cooke 35, Bates 34, Henderson 34, Parry 34, Burgess 34, Bishop 33, Walton 33,
Burns 33, Nicholson 33, Shepherd 32, Ross 32, Cross 32, Long 32, Freeman 31, Warren 31,
Nicholls 31, Hamilton 31, Byrne 30, Sutton 30, McDonald 30, Yates 30, Hodgson 30,
Robson 29, Curtis 29, Hopkins 29, Harper 29, Coleman 28, Watkins 28, Moss 28,
McCarthy 28, Chambers 28, Griffin 27, Sharp 27, Hardy 27, Wheeler 27, Potter 26,
Osborne 26, Johnston 26, Gordon 26, Doyle 26, Wallace 25, George 25, Jordan 25,
Hutchinson 25, Rowe 25, Burke 24, May 24, Pritchard 24, Gilbert 24, Willis 24, Higgins 23,
Read 23, Miles 23, Stevenson 23, Stephenson 23, Hammond 22, Arnold 22, Buckley 22,
Walters 22, Hewitt 22, Barber 21, Nelson 21, Slater 21, Austin 21, Sullivan 21,
Whitehead 20, Mann 20, Frost 20, Lambert 20, Stephens 20, Blake 20, Lynch 19, Goodwin 19,
Barton 19, Woodward 19, Thomson 19, Cunningham 19, Quinn 18, Barnett 18, Baxter 18,
Clayton 18, Nash 18, Greenwood 18, Jennings 17, Holt 17, Kemp 17, Poole 17, Gallagher 17,
Bond 17, Stokes 16, Tucker 16, Davidson 16, Fowler 16, Heath 16, Norman 16, Middleton 15,
Lees 15, Banks 15, French 15, Jarvis 15, Dale 15, Metcalfe 14, Parkinson 14, Pickering 14,
Marsden 14, Hirst 14, MacDonald 12, McKenzie 12, Fitzpatrick 10
""")

# Composed English-looking surnames for the long tail (roots x endings).
_TAIL_ROOTS = (
    "Ash Brad Card Thorn Hol Wake Brook Black Whit Fair Mar Stan Win Hather Kirk Lang Mid "
    "Nor Pen Rad Shel Sted Tap Wex Ald Bark Bever Brom Burn Cal Chad Col Crom Dal Dun Elm "
    "Fen Gar Gold Hart Hays Hen Hux Ing Kel Ken Knot Lath Lax Ley Lin Lock Mal Mat Mil Mor "
    "Naw Ock Orm Pad Pick Plat Pres Rams Red Rid Roth Sal Sand Scar Shap Shir Stain Stap "
    "Stock Sut Swin Tad Tem Thack Thwait Ut Wal War Wes Whet Wil Wool Wrax Yeld Thurs Bow "
    "Cas Dray Eg Abb Ack Ain Alder Ann Ap Arn Asp Aud Bag Bal Ban Barn Bas Bea Bel Ben Bick "
    "Bil Bing Birk Blen Bold Bot Brack Bram Bran Brent Brig Brough Buck Bud Bur Bux Cam Can "
    "Cart Cheg Chell Chis Clay Cleg Cliff Cod Cog Cor Cot Craw Crid Dar Dent Dew Dod Eld Ell "
    "Elt Ever Far Fel Fin Fol Gad Gil Glas Gos Grim Had Hal Ham Har Has Hew Hick Hind Hob Hop "
    "Hor Hud Hul Hum Ick Ire Kid Kin Lam Led Lid Lud Lyd"
).split()
_TAIL_ENDINGS = (
    "ley ton field well wood ford ham by ridge worth shaw man er son ington hurst more "
    "cliffe thwaite den stone away cote combe wick dale low land sall bury grove bridge "
    "mere hill thorpe ings ett ock all ney"
).split()

_BRITISH_FORENAMES = {
    ("M", 0): _ranked("""John, David, Michael, Peter, Robert, James, William, Brian, Alan,
        Anthony, Kenneth, Roy, Ronald, George, Thomas, Richard, Christopher, Keith, Colin,
        Barry, Derek, Terence, Raymond, Geoffrey, Dennis, Stephen, Paul, Graham, Malcolm,
        Trevor, Frederick, Harold, Leslie, Gordon, Norman, Eric, Arthur, Stanley, Albert,
        Edward, Dafydd, Gwilym"""),
    ("F", 0): _ranked("""Margaret, Patricia, Susan, Mary, Christine, Linda, Jean, Barbara,
        Elizabeth, Sandra, Carol, Janet, Ann, Pauline, Valerie, Brenda, Sheila, Maureen,
        Joan, Dorothy, Doreen, Irene, Kathleen, Marion, Jacqueline, Shirley, Gillian, Wendy,
        Hazel, Joyce, Eileen, Betty, Rita, Audrey, Sylvia, Judith, Rosemary, Anne, Elaine,
        Helen, Gwen, Catherine"""),
    ("M", 1): _ranked("""David, Paul, Andrew, Mark, John, Michael, Stephen, Ian, Robert,
        Richard, Christopher, Peter, Simon, Anthony, Kevin, Gary, Steven, Martin, James,
        Neil, Darren, Lee, Jason, Craig, Matthew, Daniel, Wayne, Dean, Carl, Scott, Stuart,
        Jonathan, Nicholas, Adam, Thomas, Ryan, Gareth, Philip, Shaun, Rhys, Jamie, William"""),
    ("F", 1): _ranked("""Sarah, Claire, Nicola, Emma, Lisa, Joanne, Michelle, Helen, Samantha,
        Karen, Amanda, Rachel, Louise, Julie, Clare, Rebecca, Sharon, Victoria, Caroline,
        Kelly, Donna, Tracey, Deborah, Dawn, Laura, Gemma, Katherine, Kerry, Elizabeth,
        Catherine, Susan, Jennifer, Natalie, Joanna, Alison, Hayley, Siân, Leanne, Stacey,
        Jacqueline, Kimberley, Margaret"""),
    ("M", 2): _ranked("""Jack, Thomas, Joshua, Oliver, Harry, James, William, Samuel, Daniel,
        Charlie, Benjamin, Joseph, Callum, George, Jake, Alfie, Luke, Matthew, Ethan, Lewis,
        Jacob, Noah, Leo, Oscar, Archie, Freddie, Alexander, Ryan, Liam, Tyler, Dylan, Jayden,
        Kyle, Logan, Max, Finley, Theo, Henry, Arthur, Reuben, Harrison, Connor, Nathan"""),
    ("F", 2): _ranked("""Olivia, Emily, Jessica, Sophie, Chloe, Lauren, Charlotte, Hannah,
        Amelia, Ellie, Grace, Lucy, Megan, Mia, Isabella, Isla, Ava, Poppy, Amy, Holly, Katie,
        Rebecca, Bethany, Abigail, Zoe, Evie, Daisy, Freya, Millie, Lily, Sophia, Ruby,
        Phoebe, Scarlett, Georgia, Elizabeth, Erin, Caitlin, Jasmine, Alexandra, Zoë, Chloë"""),
}
_BRITISH_MIDDLE = {
    "M": _ranked("""James, John, William, David, Michael, Thomas, Robert, Paul, Peter, Edward,
        George, Alexander, Anthony, Lee, Charles, Joseph, Andrew, Richard, Henry, Daniel"""),
    "F": _ranked("""Louise, Jane, Marie, Elizabeth, Anne, Rose, Grace, Mae, May, Jayne, Ann,
        Victoria, Margaret, Mary, Lynn, Claire, Jean, Sophie, Emily, Catherine"""),
}

# Per origin: forenames by sex, surnames (weights), middle-name habit.
_ORIGIN_NAMES: dict[str, dict[str, list[tuple[str, float]]]] = {
    "irish": {
        "M": _ranked("""Seán, Patrick, Michael, John, Liam, Conor, Declan, Ciarán, Eoin,
            Pádraig, Oisín, Cian, Darragh, Seamus, Colm, Dermot, Kieran, Aidan, Niall, Brendan"""),
        "F": _ranked("""Mary, Siobhán, Niamh, Aoife, Róisín, Caoimhe, Sinéad, Aisling, Orla,
            Bridget, Maeve, Eileen, Grainne, Fionnuala, Ciara, Clodagh, Deirdre, Nuala, Úna,
            Ellen"""),
        "S": _weighted("""O'Brien 60, O'Connor 55, O'Neill 55, O'Sullivan 50, O'Reilly 40,
            O'Donnell 35, O'Mahony 20, O'Leary 30, Murphy 70, Kelly 60, McCarthy 40, Ryan 40,
            Byrne 40, Walsh 40, Doyle 35, McLaughlin 30, Gallagher 30, Quinn 25, Donnelly 25,
            Kennedy 25, Brennan 25, Fitzgerald 25, Flanagan 20, Lynch 25, Nolan 20, Kavanagh 20,
            Maguire 20, McNamara 20, O'Shea 20, Ó Briain 2"""),
    },
    "pakistani": {
        "M": _ranked("""Imran, Asif, Tariq, Zahid, Adnan, Kamran, Faisal, Irfan, Shahid, Usman,
            Bilal, Hamza, Zain, Ayaan, Ibrahim, Yusuf, Sajid, Naveed, Waqas, Arif, Amjad,
            Nadeem, Rizwan, Haris, Umar, Zakariya, Rehan, Musa, Ali, Hassan, Tahir, Khalid"""),
        "F": _ranked("""Ayesha, Fatima, Zainab, Maryam, Aisha, Sana, Nadia, Samina, Shazia,
            Nasreen, Rubina, Parveen, Shabana, Yasmin, Saima, Asma, Hina, Iqra, Amina, Hafsa,
            Khadija, Mehwish, Rukhsana, Zara, Aleena, Inaya, Anaya, Safa, Noor, Hajra"""),
        "S": _weighted("""Khan 140, Hussain 110, Ahmed 80, Ali 70, Akhtar 40, Iqbal 35,
            Mahmood 35, Shah 30, Rashid 22, Aslam 22, Butt 20, Malik 25, Javed 15, Raja 15,
            Mirza 12, Bashir 18, Yousaf 12, Anwar 15, Riaz 14, Saleem 14, Mughal 10,
            Chaudhry 18, Qureshi 15, Sadiq 10, Zaman 12, Latif 12, Younis 10, Arshad 12,
            Rafiq 12, Ashraf 15, Nawaz 14, Siddique 10, Abbasi 8, Bhatti 10, Hanif 10"""),
    },
    "bangladeshi": {
        "M": _ranked("""Shahid, Jamal, Kamal, Sohel, Rubel, Shofiqul, Mizanur, Habibur,
            Ashraful, Rahim, Sayed, Anwar, Faruk, Jubair, Tanvir, Rayhan, Zakir, Ismail, Nur,
            Abu, Sultan, Foysal, Rafiq, Ayaan, Zayan, Rayyan, Ibrahim, Yahya"""),
        "F": _ranked("""Rokeya, Shahina, Nazma, Salma, Rehana, Shirin, Hasina, Fahmida,
            Tahmina, Sumaiya, Tasnim, Jannat, Nusrat, Farhana, Sabina, Rima, Sultana, Momtaz,
            Sufia, Ruksana, Amina, Maryam, Safa, Inaya, Nafisa, Lubna"""),
        "S": _weighted("""Miah 110, Uddin 90, Rahman 90, Ahmed 70, Islam 60, Hussain 45,
            Ali 45, Hoque 30, Chowdhury 30, Khan 25, Alam 25, Hassan 15, Karim 15, Sarkar 8,
            Mollah 8, Rashid 10, Bhuiyan 8, Sheikh 8, Haque 15, Amin 10, Kabir 10, Mannan 6,
            Munshi 5, Talukder 5, Bakth 4"""),
    },
    "gujarati": {
        "M": _ranked("""Ramesh, Suresh, Mahesh, Dinesh, Hitesh, Nilesh, Mukesh, Rajesh, Jayesh,
            Bharat, Kiran, Pravin, Vinod, Ashok, Anil, Sanjay, Nikhil, Rahul, Jay, Dhruv,
            Krish, Arjun, Rohan, Yash, Kishan, Deepak, Manish, Paresh, Jignesh, Chirag,
            Kantilal, Jayantilal, Navin, Harish"""),
        "F": _ranked("""Hansa, Jyoti, Kokila, Manjula, Bhavna, Nisha, Priya, Pooja, Hetal,
            Sonal, Dipti, Rekha, Meena, Usha, Geeta, Kajal, Krupa, Anjali, Riya, Diya, Isha,
            Shreya, Asha, Minal, Falguni, Jasmita, Nirmala, Sarla, Sunita, Trupti"""),
        "S": _weighted("""Patel 300, Shah 80, Mistry 50, Parmar 50, Solanki 40, Chauhan 30,
            Lad 20, Joshi 30, Desai 30, Mehta 30, Thakkar 20, Pandya 20, Bhatt 20, Makwana 30,
            Chavda 20, Vaghela 20, Rathod 20, Modi 15, Gohil 15, Tailor 20, Vora 10,
            Kotecha 15, Raithatha 10, Lakhani 10, Ruparelia 10, Soni 15, Prajapati 20,
            Panchal 15, Rana 10"""),
    },
    "sikh": {
        "M": _ranked("""Gurpreet, Harjinder, Jaswinder, Manjit, Sukhwinder, Baljit, Ranjit,
            Jaspal, Harvinder, Davinder, Amrik, Kulwinder, Gurinder, Mandeep, Jasdeep, Arjun,
            Jaskaran, Harkirat, Gurveer, Ekam, Satnam, Kuldip, Paramjit, Rajinder, Navjot"""),
        "F": _ranked("""Harpreet, Manpreet, Jaspreet, Gurpreet, Sukhjit, Kirandeep, Simran,
            Navneet, Rajwinder, Parminder, Surinder, Jasleen, Harleen, Gurleen, Amrit, Simrat,
            Navjot, Kiran, Balbir, Jasbir, Kulwant, Amandeep"""),
        "S": _weighted("""Sandhu 40, Gill 40, Dhillon 30, Sidhu 30, Johal 25, Bains 25,
            Sahota 20, Grewal 20, Virdi 15, Atwal 15, Dhaliwal 20, Kang 15, Mann 15, Sangha 15,
            Bhamra 12, Basra 12, Hayer 10, Rai 12, Chahal 12, Heer 10, Bassi 10, Kalsi 12,
            Matharu 10, Bhogal 10, Sohal 10, Panesar 10, Uppal 10, Khera 8, Randhawa 15"""),
    },
    "indian_other": {
        "M": _ranked("""Arun, Vijay, Sunil, Ravi, Anand, Prakash, Karthik, Aditya, Vikram,
            Rohit, Amit, Sandeep, Rakesh, Ajay, Sachin, Varun, Siddharth, Ishaan, Arjun,
            Rajan, Suresh, Ganesh, Sivakumar, Tharshan"""),
        "F": _ranked("""Priya, Lakshmi, Deepa, Kavita, Anita, Sunita, Neha, Shalini, Divya,
            Meera, Radha, Ananya, Aarti, Swati, Sneha, Tara, Nila, Shanthi, Vani, Pooja"""),
        "S": _weighted("""Sharma 60, Kumar 70, Gupta 40, Verma 25, Nair 25, Pillai 20, Reddy 20,
            Iyer 15, Rao 20, Menon 15, Chopra 15, Kapoor 20, Malhotra 15, Arora 20, Khanna 15,
            Bhatia 15, Sethi 12, Mehra 10, Das 20, Ghosh 15, Banerjee 12, Mukherjee 12,
            Chatterjee 10, Selvarajah 10, Sivapalan 8, Thurairajah 6, Jain 15"""),
    },
    "polish": {
        "M": _ranked("""Piotr, Krzysztof, Tomasz, Paweł, Marcin, Michał, Łukasz, Jakub,
            Wojciech, Mateusz, Dawid, Adam, Marek, Grzegorz, Andrzej, Jan, Szymon, Kacper,
            Bartosz, Kamil, Filip, Antoni, Zbigniew, Jarosław, Sławomir"""),
        "F": _ranked("""Anna, Katarzyna, Agnieszka, Małgorzata, Magdalena, Joanna, Aleksandra,
            Monika, Ewa, Natalia, Karolina, Justyna, Dorota, Beata, Zofia, Julia, Maja,
            Zuzanna, Hanna, Oliwia, Wiktoria, Barbara, Danuta, Krystyna, Iwona"""),
        # masculine forms; -ski/-cki/-dzki take -ska/-cka/-dzka for women
        "S": _weighted("""Nowak 50, Kowalski 40, Wiśniewski 30, Wójcik 28, Kowalczyk 26,
            Kamiński 25, Lewandowski 25, Zieliński 22, Szymański 22, Woźniak 22,
            Dąbrowski 20, Kozłowski 18, Jankowski 16, Mazur 16, Kwiatkowski 15, Krawczyk 15,
            Piotrowski 14, Grabowski 14, Nowakowski 12, Pawłowski 12, Michalski 12,
            Nowicki 12, Adamczyk 12, Dudek 12, Zając 12, Wieczorek 11, Jabłoński 11, Król 11,
            Majewski 10, Olszewski 10, Jaworski 10, Wróbel 10, Malinowski 10, Pawlak 10,
            Witkowski 9, Walczak 9, Stępień 9, Górski 9, Rutkowski 8, Michalak 8, Sikora 8,
            Ostrowski 8, Baran 8, Duda 8, Szewczyk 8, Tomaszewski 8, Pietrzak 7,
            Marciniak 7, Wróblewski 7, Zalewski 7, Zawadzki 6"""),
    },
    "romanian": {
        "M": _ranked("""Andrei, Ionuț, Mihai, Alexandru, Florin, Gabriel, Cristian, Ștefan,
            Bogdan, Răzvan, Marius, Adrian, Daniel, Constantin, Vasile, Ion, George, Sorin,
            Nicolae, Cosmin"""),
        "F": _ranked("""Maria, Elena, Ioana, Andreea, Alexandra, Mihaela, Cristina, Georgiana,
            Mădălina, Ana, Gabriela, Daniela, Alina, Florentina, Roxana, Larisa, Bianca,
            Denisa, Raluca, Simona"""),
        "S": _ranked("""Popescu, Ionescu, Popa, Pop, Radu, Dumitru, Stan, Stoica, Gheorghe,
            Matei, Constantin, Munteanu, Rusu, Lungu, Florea, Tudor, Ciobanu, Ungureanu,
            Marin, Moldovan, Dinu, Sârbu, Barbu, Nistor, Ene, Toma, Lazăr, Mocanu, Oprea,
            Dobre""", 1.0, 0.25),
    },
    "european_other": {
        "M": _ranked("""João, José, Luís, António, Miguel, Pedro, Tiago, Diogo, Marco, Luca,
            Giuseppe, Alessandro, Matteo, Pablo, Javier, Sergio, Pierre, Étienne, Lukas,
            Jonas, Tobias, Mantas, Tomas, Carlos, Francesco, Rui"""),
        "F": _ranked("""Ana, Inês, Beatriz, Mariana, Sofia, Giulia, Francesca, Chiara, Elena,
            Lucía, María, Carmen, Amélie, Chloé, Léa, Hélène, Anja, Lena, Julia, Laura, Rūta,
            Greta, Marta, Rita"""),
        "S": _ranked("""Silva, Santos, Ferreira, Rossi, Pereira, Oliveira, Costa, Rodrigues,
            García, Martins, Russo, Ferrari, Sousa, Fernandes, Gonçalves, Esposito, Bianchi,
            Romano, Fernández, López, Martínez, Sánchez, Pérez, Bernard, Dubois, Moreau,
            Lefèvre, Müller, Schmidt, Schneider, Fischer, Weber, Becker, Kazlauskas,
            Jankauskas, Petrauskas, De Souza, Da Silva, Van Dijk""", 1.0, 0.2),
    },
    "west_african": {
        "M": _ranked("""Samuel, David, Daniel, Emmanuel, Oluwaseun, Oluwatobi, Olumide,
            Ayodele, Babatunde, Adewale, Chinedu, Chukwuemeka, Ikenna, Obinna, Kwame, Kofi,
            Kwabena, Yaw, Kwaku, Joshua, Michael, Victor, Ebuka, Femi, Tunde, Ibrahim,
            Mohamed, Abdul"""),
        "F": _ranked("""Grace, Blessing, Precious, Esther, Favour, Adaeze, Ngozi, Chioma,
            Chiamaka, Nneka, Folake, Funmilayo, Temitope, Olamide, Abena, Ama, Akosua, Adwoa,
            Efua, Mercy, Joy, Deborah, Comfort, Fatmata, Aminata, Mariama"""),
        "S": _ranked("""Adeyemi, Okafor, Mensah, Owusu, Boateng, Adebayo, Okoro, Asante, Osei,
            Okonkwo, Eze, Nwosu, Obi, Ogunleye, Olawale, Adeleke, Balogun, Bello, Ibrahim,
            Agyeman, Appiah, Darko, Ansah, Amoah, Danso, Ofori, Kamara, Sesay, Conteh,
            Bangura, Jalloh, Oyelaran, Akinola, Oduya, Nwachukwu""", 1.0, 0.2),
    },
    "somali": {
        "M": _ranked("""Mohamed, Abdirahman, Abdullahi, Abdikarim, Ahmed, Hassan, Said, Yusuf,
            Omar, Mustafa, Khalid, Abdiaziz, Ali, Ismail, Abdi, Farah, Osman, Hussein"""),
        "F": _ranked("""Fadumo, Hodan, Sahra, Amina, Ayaan, Ifrah, Hibo, Nimo, Ubah, Khadra,
            Ladan, Sagal, Asha, Hawa, Deqa, Safiya, Hamdi, Idil"""),
        "S": _ranked("""Mohamed, Ahmed, Ali, Hassan, Abdi, Farah, Osman, Hussein, Abdullahi,
            Warsame, Ismail, Omar, Yusuf, Aden, Jama, Nur, Egal, Hirsi, Duale, Guled""",
                     1.0, 0.2),
    },
    "chinese": {
        "M": _ranked("""Wei, Jie, Hao, Jun, Lei, Ming, Tao, Hui, Xiaoming, Zhiwei, Jianhua, Kai,
            Yu, Chi Keung, Ka Ho, Wing, Zihan, Haoran, Yichen, Junjie"""),
        "F": _ranked("""Mei, Xin, Ying, Jing, Yan, Fang, Hong, Xiaoyan, Yuxin, Ling, Min, Qian,
            Wen, Lina, Siu Ling, Mei Ling, Yuen, Zixuan, Yutong, Ruoxi"""),
        "S": _ranked("""Wang, Li, Zhang, Chen, Wong, Chan, Liu, Lee, Cheung, Lam, Yang, Huang,
            Zhao, Wu, Ho, Leung, Zhou, Tang, Ng, Xu, Sun, Ma, Zhu, Hu, Yip, Chow, Lau, Guo,
            Lin, Fung, Luo, Gao""", 1.0, 0.12),
        "E_M": _ranked("Kevin, Jason, Eric, Tony, Peter, Michael, Andy, Ken, Vincent, Danny"),
        "E_F": _ranked("Jenny, Grace, Amy, Vivian, Cindy, Helen, Linda, Annie, Karen, Joyce"),
    },
    "middle_eastern": {
        "M": _ranked("""Mehmet, Mustafa, Emre, Murat, Ahmet, Omar, Ali, Karim, Hassan, Ahmad,
            Reza, Amir, Hamid, Saeed, Yousef, Khaled, Rami, Hussein, Kawa, Dilshad"""),
        "F": _ranked("""Ayşe, Fatma, Elif, Zeynep, Emine, Fatima, Layla, Mariam, Noor, Zahra,
            Maryam, Shirin, Nasrin, Leila, Rania, Huda, Hana, Dina, Sara, Rojin"""),
        "S": _ranked("""Yilmaz, Hussein, Ahmadi, Kaya, Mohammadi, Hassan, Demir, Abdullah,
            Karimi, Şahin, Mahmoud, Hosseini, Çelik, Rahimi, Saleh, Aydın, Rezaei, Öztürk,
            Aziz, Arslan, Kareem, Jaber, Haddad, Nasser, Salem, Omar, Rasul, Qadir""",
                     1.0, 0.2),
    },
}

# Short forms: formal -> forms people are recorded under.
_SHORT = {
    "Elizabeth": "Liz Beth Lizzie Betty", "Katherine": "Kate Kathy Katie",
    "Catherine": "Kate Cathy Cath", "William": "Bill Will Billy", "Robert": "Bob Rob Bobby",
    "Margaret": "Peggy Maggie Meg", "James": "Jim Jimmy Jamie", "Thomas": "Tom Tommy",
    "Michael": "Mike Mick", "Richard": "Rick Dick Richie", "Anthony": "Tony",
    "Edward": "Ed Ted Eddie", "Christopher": "Chris", "Matthew": "Matt",
    "Daniel": "Dan Danny", "Samuel": "Sam Sammy", "Alexander": "Alex Sandy",
    "Jennifer": "Jenny Jen", "Rebecca": "Becky Becca", "Victoria": "Vicky Tori",
    "Deborah": "Debbie Debs", "Susan": "Sue Susie", "Patricia": "Pat Trish Patsy",
    "Joseph": "Joe Joey", "Benjamin": "Ben", "Jonathan": "Jon Jonny", "Nicholas": "Nick",
    "Stephen": "Steve", "Steven": "Steve", "Andrew": "Andy Drew", "David": "Dave Davy",
    "Peter": "Pete", "Charlotte": "Lottie Charlie", "Abigail": "Abbie Abby",
    "Alexandra": "Alex Lexi", "Samantha": "Sam Sammie", "Jacqueline": "Jackie",
    "Kimberley": "Kim", "Frederick": "Fred Freddie", "Harold": "Harry", "Henry": "Harry Hal",
    "Lawrence": "Larry Laurie", "Dorothy": "Dot Dolly", "Mary": "Molly Polly May",
    "Sarah": "Sally", "Helen": "Nell", "Kenneth": "Ken Kenny", "Ronald": "Ron Ronnie",
    "Terence": "Terry", "Raymond": "Ray", "Geoffrey": "Geoff", "Gillian": "Gill Jill",
    "Valerie": "Val", "Christine": "Chris Chrissie", "Pauline": "Paula",
    "Barbara": "Barb Babs", "Josephine": "Jo Josie", "Joanne": "Jo", "Joanna": "Jo",
    "Nicola": "Nicky", "Amanda": "Mandy", "Rachel": "Rach", "Gareth": "Gaz",
    "Leslie": "Les", "Gwendolen": "Gwen", "Isabella": "Bella Izzy", "Jessica": "Jess",
    "Oliver": "Ollie", "Alfred": "Alf Alfie", "Arthur": "Art", "Albert": "Bert Albie",
    "Stanley": "Stan", "Gordon": "Gordy", "Norman": "Norm", "Philip": "Phil",
    "Eleanor": "Ellie Nell", "Natalie": "Nat", "Jacob": "Jake",
    "Katarzyna": "Kasia", "Małgorzata": "Gosia", "Aleksandra": "Ola", "Wojciech": "Wojtek",
    "Tomasz": "Tomek", "Krzysztof": "Krzysiek", "Agnieszka": "Aga", "Magdalena": "Magda",
    "Oluwaseun": "Seun", "Oluwatobi": "Tobi", "Babatunde": "Tunde", "Chukwuemeka": "Emeka",
    "Funmilayo": "Funmi", "Temitope": "Tope", "Olumide": "Mide", "Adewale": "Wale",
    "Chiamaka": "Amaka", "Ayodele": "Ayo", "Alessandro": "Alex", "Giuseppe": "Beppe",
    "Francesco": "Franco", "Abdirahman": "Abdi", "Abdullahi": "Abdi", "Fadumo": "Fadum",
    "Siobhán": "Shiv", "Pádraig": "Paddy", "Patrick": "Pat Paddy", "Seamus": "Shay",
    "Harjinder": "Harj", "Sukhwinder": "Sukhi", "Jaswinder": "Jas", "Gurpreet": "Gary",
    "Mohammed": "Mo", "Ibrahim": "Ibby",
}
SHORT_FORMS: dict[str, tuple[str, ...]] = {k: tuple(v.split()) for k, v in _SHORT.items()}

# Spelling variants between transliterations (per record, rate ``translit``).
_TRANSLIT_GROUPS = [
    "Hussain Hussein Husain Hossain", "Chowdhury Choudhury Chaudhry Choudhry",
    "Mohamed Mohammed Mohamud", "Ahmed Ahmad Ahmet", "Rahman Rehman", "Uddin Udin",
    "Miah Mia Miya", "Islam Eslam", "Hoque Haque Hoq", "Yusuf Yousuf Yousaf Yusef",
    "Mahmood Mahmud Mehmood", "Iqbal Ikbal", "Siddique Siddiqui", "Qureshi Kureshi",
    "Ayesha Aisha Ayisha", "Fatima Fatma Fatema", "Maryam Mariam Mariyam", "Zainab Zaynab",
    "Yasmin Yasmeen Jasmin", "Nasreen Nasrin", "Parveen Perveen", "Sukhwinder Sukhvinder",
    "Jaswinder Jasvinder", "Harvinder Harwinder", "Kulwinder Kulvinder", "Rajinder Rajindar",
    "Kuldip Kuldeep", "Manjit Manjeet", "Paramjit Paramjeet", "Sandhu Sandu",
    "Dhaliwal Dhaliwall", "Mistry Mistri", "Chauhan Chohan", "Thakkar Thakker",
    "Farah Farrah", "Abdi Abdy", "Osman Othman Usman", "Omar Umar", "Zhang Chang",
    "Chen Chan", "Huang Wong", "Wang Wong", "Zhou Chou Chow", "Li Lee", "Xu Hsu",
    "Oluwaseun Oluseun", "Adeyemi Adeyemmi", "Okafor Okaffor", "Mensah Mensa",
    "Owusu Owusuh", "Ionuț Ionut", "Ștefan Stefan",
]
TRANSLIT: dict[str, tuple[str, ...]] = {}
for _grp in _TRANSLIT_GROUPS:
    _names = _grp.split()
    for _n in _names:
        TRANSLIT[_n] = tuple(x for x in _names if x != _n)

MOHAMMED_SPELLINGS = (("Mohammed", 0.5), ("Muhammad", 0.22), ("Mohammad", 0.14),
                      ("Mohamed", 0.08), ("Mohd", 0.03), ("Md", 0.03))


# ---------------------------------------------------------------------------------------
# Error and convention rates per file.
# ---------------------------------------------------------------------------------------

_LA = {
    # naming conventions
    "known_name": 0.70, "middle_as_forename": 0.02, "full_given": 0.01, "short_form": 0.08,
    "english_name": 0.50, "gujarati_suffix": 0.04, "translit": 0.06, "mohammed_alt": 0.30,
    "mohammed_spelling": 0.12, "sikh_alt": 0.25, "begum_alt": 0.30, "polish_form": 0.08,
    "maiden": 0.10, "dbl_partial": 0.25, "dbl_nohyphen": 0.20, "apostrophe_drop": 0.20,
    "apostrophe_space": 0.05, "strip_accents": 0.40, "swap": 0.005, "swap_chinese": 0.08,
    "initial": 0.006, "alias": 0.0,
    # errors
    "forename_typo": 0.02, "surname_typo": 0.02, "forename_missing": 0.002,
    "surname_missing": 0.001,
    "dob_swap": 0.006, "dob_day": 0.004, "dob_year": 0.004, "dob_digit": 0.003,
    "dob_first": 0.004, "dob_missing": 0.004,
    "postcode_typo": 0.008, "postcode_missing": 0.02, "postcode_nfa": 0.0,
    "sex_missing": 0.008, "sex_wrong": 0.003,
    "upper": 0.12, "lower": 0.03, "whitespace": 0.03,
    "nino_present": 0.25, "nino_typo": 0.003,
}
_DWP = dict(_LA, **{
    "known_name": 0.25, "middle_as_forename": 0.03, "full_given": 0.06, "short_form": 0.02,
    "english_name": 0.15, "gujarati_suffix": 0.02, "translit": 0.05, "mohammed_alt": 0.25,
    "mohammed_spelling": 0.10, "sikh_alt": 0.20, "begum_alt": 0.25, "polish_form": 0.05,
    "maiden": 0.15, "dbl_partial": 0.15, "dbl_nohyphen": 0.35, "apostrophe_drop": 0.55,
    "apostrophe_space": 0.10, "strip_accents": 1.0, "swap": 0.004, "swap_chinese": 0.06,
    "initial": 0.004,
    "forename_typo": 0.012, "surname_typo": 0.012, "forename_missing": 0.001,
    "surname_missing": 0.0005,
    "dob_swap": 0.003, "dob_day": 0.002, "dob_year": 0.002, "dob_digit": 0.002,
    "dob_first": 0.002, "dob_missing": 0.002,
    "postcode_typo": 0.005, "postcode_missing": 0.01,
    "sex_missing": 0.002, "sex_wrong": 0.002,
    "upper": 0.97, "lower": 0.0, "whitespace": 0.01,
    "nino_present": 0.97, "nino_typo": 0.002,
})
_LA_M = dict(_LA, **{
    "forename_typo": 0.03, "surname_typo": 0.03, "forename_missing": 0.004,
    "surname_missing": 0.002,
    "dob_swap": 0.009, "dob_day": 0.006, "dob_year": 0.006, "dob_digit": 0.005,
    "dob_first": 0.006, "dob_missing": 0.01,
    "postcode_typo": 0.012, "postcode_missing": 0.04, "sex_missing": 0.015,
})
_MOJ = dict(_LA, **{
    "known_name": 0.60, "middle_as_forename": 0.06, "full_given": 0.04, "short_form": 0.12,
    "english_name": 0.40, "gujarati_suffix": 0.03, "translit": 0.12, "mohammed_alt": 0.40,
    "mohammed_spelling": 0.20, "sikh_alt": 0.35, "begum_alt": 0.40, "polish_form": 0.12,
    "maiden": 0.30, "dbl_partial": 0.35, "dbl_nohyphen": 0.30, "apostrophe_drop": 0.50,
    "apostrophe_space": 0.10, "strip_accents": 0.90, "swap": 0.02, "swap_chinese": 0.15,
    "initial": 0.02, "alias": 0.22,
    "forename_typo": 0.04, "surname_typo": 0.04, "forename_missing": 0.005,
    "surname_missing": 0.003,
    "dob_swap": 0.02, "dob_day": 0.01, "dob_year": 0.012, "dob_digit": 0.012,
    "dob_first": 0.01, "dob_missing": 0.025,
    "postcode_typo": 0.02, "postcode_missing": 0.12, "postcode_nfa": 0.5,
    "sex_missing": 0.01, "sex_wrong": 0.005,
    "upper": 0.20, "lower": 0.02, "whitespace": 0.05,
    "nino_present": 0.35, "nino_typo": 0.01,
})
#: Rates of each file profile (see the module docstring for what each one means).
PROFILES: dict[str, dict[str, float]] = {"la": _LA, "dwp": _DWP, "la_m": _LA_M, "moj": _MOJ}

#: Column names of each file kind (logical field -> column).
COLUMNS: dict[str, dict[str, str]] = {
    "la": {"id": "person_ref", "first": "first_name", "last": "last_name",
           "dob": "date_of_birth", "sex": "gender", "postcode": "postcode", "nino": "ni_no"},
    "dwp": {"id": "dwp_id", "first": "forename", "last": "surname", "dob": "dob", "sex": "sex",
            "postcode": "post_code", "nino": "nino"},
    "moj": {"id": "pnc_ref", "first": "given_name", "last": "family_name",
            "dob": "birth_date", "sex": "sex", "postcode": "last_known_postcode",
            "nino": "ni_number"},
}

#: Scenario shapes at scale 1.
SCENARIOS: dict[str, dict[str, Any]] = {
    "la_dwp": {"n_a": 50_000, "n_b": 60_000, "a": "la", "b": "dwp", "kind_b": "dwp",
               "p_adult": 0.80, "p_child": 0.62, "namesakes": 0.06, "moved": 0.10},
    "la_moj": {"n_a": 20_000, "n_b": 8_000, "a": "la_m", "b": "moj", "kind_b": "moj",
               "linked_b": 4_400, "namesakes": 0.08, "moved": 0.30},
}

# ---------------------------------------------------------------------------------------
# Population.
# ---------------------------------------------------------------------------------------


class _Sampler:
    """Weighted choice by bisection on cumulative weights (one uniform per draw)."""

    def __init__(self, items: list[tuple[str, float]]) -> None:
        self.names = [n for n, _ in items]
        self.cum: list[float] = []
        t = 0.0
        for _, w in items:
            t += w
            self.cum.append(t)
        self.total = t

    def draw(self, r: random.Random) -> str:
        return self.names[min(bisect.bisect(self.cum, r.random() * self.total),
                              len(self.names) - 1)]


def _tail_surnames() -> list[tuple[str, float]]:
    r = random.Random("independent-data:tail-surnames")
    known = {n for n, _ in _BRITISH_SURNAMES}
    out: dict[str, float] = {}
    for root in _TAIL_ROOTS:
        for end in _TAIL_ENDINGS:
            name = root + end
            if name not in known and name not in out and root.lower() != end:
                out[name] = r.lognormvariate(0.0, 0.8)
    return list(out.items())


#: Mean household size by origin (measured on this generator, 4,000 households each):
#: households are drawn with weight share / size so that *people* follow GROUP_SHARES.
_MEAN_HH_SIZE = {"british": 2.34, "irish": 2.38, "pakistani": 3.62, "bangladeshi": 3.63,
                 "gujarati": 3.34, "sikh": 3.35, "indian_other": 3.25, "polish": 2.35,
                 "romanian": 2.37, "european_other": 2.37, "west_african": 2.52,
                 "somali": 3.28, "chinese": 2.34, "middle_eastern": 2.35}
_GROUP_SAMPLER = _Sampler([(g, s / _MEAN_HH_SIZE[g]) for g, s in GROUP_SHARES.items()])
_PERSON_GROUP_SAMPLER = _Sampler(list(GROUP_SHARES.items()))
_BRIT_HEAD = _Sampler(_BRITISH_SURNAMES)
_BRIT_TAIL = _Sampler(_tail_surnames())
_BRIT_HEAD_SHARE = 0.30
_BRIT_FORE = {k: _Sampler(v) for k, v in _BRITISH_FORENAMES.items()}
_BRIT_MID = {k: _Sampler(v) for k, v in _BRITISH_MIDDLE.items()}
_ORIGIN = {g: {k: _Sampler(v) for k, v in d.items()} for g, d in _ORIGIN_NAMES.items()}
_MOHAMMED = _Sampler(list(MOHAMMED_SPELLINGS))

_HH_TYPES = ("single", "couple", "couple_kids", "lone", "multigen")
_HH_MIX = {
    "default": (0.30, 0.27, 0.28, 0.11, 0.04),
    "south_asian": (0.12, 0.16, 0.46, 0.06, 0.20),
    "west_african": (0.25, 0.15, 0.35, 0.22, 0.03),
    "somali": (0.15, 0.10, 0.45, 0.27, 0.03),
}
_TOOK_NAME = {"british": 0.6, "irish": 0.6, "polish": 0.85, "romanian": 0.8,
              "european_other": 0.3, "west_african": 0.75, "chinese": 0.1,
              "middle_eastern": 0.3, "pakistani": 0.75, "bangladeshi": 0.4, "gujarati": 0.9,
              "sikh": 0.8, "indian_other": 0.75, "somali": 0.0}
_EXTRA_KIDS = {"pakistani": 1.6, "bangladeshi": 1.6, "somali": 1.6, "gujarati": 1.0,
               "sikh": 1.1, "indian_other": 0.9}
_TWIN_RATE = 0.015
_JUNIOR_RATE = 0.03
_MIXED_COUPLE = 0.06
_DOUBLE_BARRELLED_FAMILY = 0.012
_DOUBLE_BARRELLED_CHILD = 0.15

#: Invented postcode areas: area -> number of districts. KR is the local authority.
_AREAS = {"KR": 22, "BW": 15, "HT": 12, "GX": 18, "PD": 9}
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
_SINGLE_AGE_BANDS = ((18, 24, 0.09), (25, 34, 0.15), (35, 49, 0.17), (50, 64, 0.24),
                     (65, 79, 0.24), (80, 89, 0.09), (90, 95, 0.02))
_COUPLE_AGE_BANDS = ((22, 34, 0.15), (35, 54, 0.25), (55, 69, 0.32), (70, 89, 0.28))


@dataclass(eq=False)
class Person:
    """One person as they are, before any file records them."""

    pid: int
    hh: int
    group: str  # origin of the names
    sex: str  # M/F
    dob: dt.date
    given: list[str]  # given names in order
    calling: int = 0  # index of the given name used day to day
    surname: str = ""  # current family surname ("" for a Sikh without a family name)
    birth_surname: str = ""  # before marriage, when different
    mother_surname: str = ""  # mother's birth surname (for aliases)
    religious: str = ""  # Singh/Kaur/Begum/Bibi/Khatun
    style: str = ""  # usual form of a Sikh/Begum/Mohammed name
    prefix_spelling: str = ""  # usual spelling of Mohammed
    english: str = ""  # adopted English forename
    masculine: str = ""  # masculine form of a gendered Polish surname
    nino: str = ""
    role: str = ""
    pc_a: str = ""  # postcode at the time of file A
    pc_b: str = ""  # postcode at the time of file B

    @property
    def age(self) -> int:
        d = REFERENCE_DATE
        return d.year - self.dob.year - ((d.month, d.day) < (self.dob.month, self.dob.day))


def _dob_for_age(r: random.Random, age: int) -> dt.date:
    age = max(0, min(95, age))
    ref = REFERENCE_DATE
    try:
        anchor = ref.replace(year=ref.year - age)
    except ValueError:  # 29 February
        anchor = ref.replace(year=ref.year - age, day=28)
    return anchor - dt.timedelta(days=r.randint(0, 364))


def _band_age(r: random.Random, bands: tuple[tuple[int, int, float], ...]) -> int:
    x = r.random() * sum(b[2] for b in bands)
    for lo, hi, w in bands:
        if x < w:
            return r.randint(lo, hi)
        x -= w
    return r.randint(bands[-1][0], bands[-1][1])


def _poisson(r: random.Random, lam: float) -> int:
    k, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= r.random()
        if p <= limit:
            return k
        k += 1


class _Region:
    """Postcode units of the invented areas; households are placed and moved here."""

    def __init__(self, r: random.Random, approx_households: int) -> None:
        self.r = r
        self.districts: dict[str, list[str]] = {}
        self.weights: dict[str, list[tuple[str, float]]] = {}
        for area, n in _AREAS.items():
            ws = [(f"{area}{d}", 0.3 if d == 1 else 0.6 + r.random()) for d in range(1, n + 1)]
            self.weights[area] = ws
        tot = sum(w for ws in self.weights.values() for _, w in ws)
        self.capacity = {d: max(25, int(math.ceil(approx_households * w / tot / 8 * 2.0)))
                         for ws in self.weights.values() for d, w in ws}
        self.samplers = {a: _Sampler(ws) for a, ws in self.weights.items()}

    def _units(self, district: str) -> list[str]:
        u = self.districts.get(district)
        if u is None:
            seen: dict[str, None] = {}
            while len(seen) < self.capacity[district]:
                code = (f"{self.r.randint(0, 9)}{self.r.choice(_INWARD_LETTERS)}"
                        f"{self.r.choice(_INWARD_LETTERS)}")
                seen[code] = None
            u = self.districts[district] = list(seen)
        return u

    def place(self, home_share: float) -> str:
        r = self.r
        if r.random() < home_share:
            area = "KR"
        else:
            area = r.choice(("BW", "HT", "GX", "PD"))
        d = self.samplers[area].draw(r)
        return f"{d} {r.choice(self._units(d))}"

    def move(self, pc: str) -> str:
        r = self.r
        district = pc.split(" ")[0]
        area = district.rstrip("0123456789")
        x = r.random()
        if x < 0.6:
            d = district
        elif x < 0.85:
            d = self.samplers[area].draw(r)
        else:
            d = self.samplers[r.choice(list(_AREAS))].draw(r)
        for _ in range(20):
            new = f"{d} {r.choice(self._units(d))}"
            if new != pc:
                return new
        return f"{d} 9ZZ"


_NINO_FIRST = "ABCEGHJKLMNOPRSTWXYZ"
_NINO_SECOND = "ABCEGHJKLMNPRSTWXYZ"
_NINO_BAD = ("BG", "GB", "NK", "KN", "TN", "NT", "ZZ")


class _People:
    """Builds households of people; every draw comes from one Random."""

    def __init__(self, r: random.Random, region: _Region) -> None:
        self.r = r
        self.region = region
        self.next_pid = 0
        self.next_hh = 0
        self.ninos: dict[str, None] = {}
        self.events: list[tuple[str, int, str, str]] = []  # population features

    # -- names ---------------------------------------------------------------------------
    def _era(self, dob: dt.date) -> int:
        e = 0 if dob.year < 1960 else (1 if dob.year < 1990 else 2)
        if self.r.random() < 0.15:
            e = max(0, min(2, e + self.r.choice((-1, 1))))
        return e

    def forename(self, group: str, sex: str, dob: dt.date) -> str:
        r = self.r
        if group == "british":
            return _BRIT_FORE[(sex, self._era(dob))].draw(r)
        name = _ORIGIN[group][sex].draw(r)
        if group == "irish" and r.random() < 0.5:
            name = _fold(name)
        return name

    def surname(self, group: str) -> str:
        r = self.r
        if group == "british":
            if r.random() < _BRIT_HEAD_SHARE:
                return _BRIT_HEAD.draw(r)
            return _BRIT_TAIL.draw(r)
        return _ORIGIN[group]["S"].draw(r)

    def middle(self, group: str, sex: str, dob: dt.date) -> list[str]:
        r = self.r
        if group in ("british", "irish"):
            p = 0.75 if group == "british" else 0.6
            if r.random() >= p:
                return []
            names = [_BRIT_MID[sex].draw(r)]
            if r.random() < 0.10:
                names.append(_BRIT_MID[sex].draw(r))
            return names
        share = {"polish": 0.2, "romanian": 0.15, "european_other": 0.3, "west_african": 0.6,
                 "pakistani": 0.2, "bangladeshi": 0.2, "indian_other": 0.3,
                 "middle_eastern": 0.1}.get(group, 0.0)
        if r.random() < share:
            if group == "west_african" and r.random() < 0.5:
                return [_BRIT_MID[sex].draw(r)]
            return [self.forename(group, sex, dob)]
        return []

    # -- people --------------------------------------------------------------------------
    def _nino(self) -> str:
        r = self.r
        while True:
            a, b = r.choice(_NINO_FIRST), r.choice(_NINO_SECOND)
            if a + b in _NINO_BAD:
                continue
            n = f"{a}{b}{r.randint(0, 999999):06d}{r.choice('ABCD')}"
            if n not in self.ninos:
                self.ninos[n] = None
                return n

    def person(self, hh: int, group: str, sex: str, age: int, role: str,
               name_group: str | None = None) -> Person:
        r = self.r
        ng = name_group or group
        dob = _dob_for_age(r, age)
        p = Person(self.next_pid, hh, ng, sex, dob, [self.forename(ng, sex, dob)], role=role)
        self.next_pid += 1
        p.given += self.middle(ng, sex, dob)
        if ng == "somali":
            p.given.append(self.forename(ng, "M", dob))  # father's name
        if ng == "british" and len(p.given) > 1 and r.random() < 0.03:
            p.calling = 1  # goes by the middle name
        if ng == "chinese" and r.random() < 0.25:
            p.english = _ORIGIN["chinese"]["E_" + sex].draw(r)
        if sex == "M" and ng in ("pakistani", "bangladeshi", "middle_eastern"):
            share = 0.4 if ng != "middle_eastern" else 0.1
            x = r.random()
            if x < share or (ng != "middle_eastern" and x < share + 0.1):
                prefix = "Mohammed" if x < share else "Abdul"
                if prefix == "Mohammed":
                    sp = _MOHAMMED.draw(r)
                    if ng == "bangladeshi" and r.random() < 0.25:
                        sp = "Md"
                    p.prefix_spelling = sp
                p.given = [prefix, p.given[0]]
                p.calling = 1
                p.style = _pick(r, (("prefix", 0.3), ("both", 0.3), ("calling", 0.3),
                                    ("calling_prefix", 0.1)))
        if age >= 16:
            p.nino = self._nino()
        return p

    def household(self, group: str, home_share: float) -> list[Person]:
        r = self.r
        hh = self.next_hh
        self.next_hh += 1
        key = ("south_asian" if group in SOUTH_ASIAN else
               group if group in ("west_african", "somali") else "default")
        kind = _pick(r, tuple(zip(_HH_TYPES, _HH_MIX[key])))
        people: list[Person] = []
        if kind == "single":
            sex = "M" if r.random() < 0.48 else "F"
            p = self.person(hh, group, sex, _band_age(r, _SINGLE_AGE_BANDS), "single")
            p.surname = self._own_surname(p)
            self._begum(p, adult=True)
            people.append(p)
        else:
            kids = kind != "couple"
            if kids:
                eldest = r.choice((*range(0, 16), *range(0, 16), *range(16, 20), *range(20, 25)))
                mafb = int(max(16, min(42, r.gauss(28, 5))))
                mother_age = eldest + mafb
            else:
                eldest = -1
                mother_age = _band_age(r, _COUPLE_AGE_BANDS)
            father_age = int(max(18, min(95, mother_age + r.gauss(2.5, 4))))
            mother_age = min(95, mother_age)
            if kind == "lone":
                lone_sex = "F" if r.random() < 0.9 else "M"
                head = self.person(hh, group, lone_sex, mother_age if lone_sex == "F"
                                   else father_age, "parent")
                head.surname = self._own_surname(head)
                if lone_sex == "F" and r.random() < 0.4 and group not in ("somali", "sikh"):
                    # kept the surname of a former marriage
                    head.birth_surname = head.surname
                    head.surname = self._gender_form(head, self.surname(group))
                if lone_sex == "F":
                    self._begum(head, adult=True)
                people.append(head)
                father = None
                mother = head if lone_sex == "F" else None
            else:
                same_sex = r.random() < 0.015
                father = self.person(hh, group, "M", father_age, "parent")
                father.surname = self._own_surname(father)
                pgroup = group
                if r.random() < _MIXED_COUPLE:
                    pgroup = _PERSON_GROUP_SAMPLER.draw(r)
                if same_sex:
                    mother = None
                    partner = self.person(hh, pgroup, "M", mother_age, "partner")
                    partner.surname = self._own_surname(partner)
                    people += [father, partner]
                else:
                    mother = self.person(hh, pgroup, "F", mother_age, "partner")
                    self._marry(father, mother)
                    people += [father, mother]
                if kind == "multigen":
                    g = self.person(hh, group, "F", min(95, father_age + int(r.gauss(28, 5))),
                                    "grandparent")
                    if group == "somali":
                        g.surname = self.surname(group)
                    else:
                        g.surname = self._gender_form(g, father.masculine or father.surname)
                    if group == "sikh":
                        g.religious = "Kaur"
                        g.style = father.style if g.surname else "rel"
                    self._begum(g, adult=True)
                    people.append(g)
            if kids:
                people += self._children(hh, group, eldest, father, mother, people[0])
        pc = self.region.place(home_share)
        for p in people:
            p.pc_a = p.pc_b = pc
        return people

    def _own_surname(self, p: Person) -> str:
        r = self.r
        g = p.group
        if g == "somali":
            return self.surname(g)  # grandfather's name
        if g == "sikh":
            p.religious = "Singh" if p.sex == "M" else "Kaur"
            fam = self.surname(g) if r.random() < 0.7 else ""
            p.style = "rel" if not fam else _pick(
                r, (("fam", 0.5), ("rel", 0.25), ("relfam", 0.1), ("fore_rel", 0.15)))
            return fam
        s = self.surname(g)
        if g == "british" and r.random() < _DOUBLE_BARRELLED_FAMILY:
            s = f"{s}-{self.surname(g)}"
        return self._gender_form(p, s)

    def _gender_form(self, p: Person, s: str) -> str:
        if p.group != "polish" or p.sex != "F":
            return s
        for m, f in (("ski", "ska"), ("cki", "cka"), ("dzki", "dzka")):
            if s.endswith(m):
                p.masculine = s
                return s[: -len(m)] + f
        return s

    def _begum(self, p: Person, adult: bool) -> None:
        r = self.r
        if p.sex != "F":
            return
        if p.group == "bangladeshi" and (adult or r.random() < 0.3):
            p.religious = "Begum" if r.random() < 0.7 else "Khatun"
            p.style = _pick(r, (("rel", 0.55), ("fam", 0.3), ("fore_rel", 0.15)))
        elif p.group == "pakistani" and r.random() < (0.35 if adult else 0.05):
            p.religious = "Bibi" if r.random() < 0.7 else "Begum"
            p.style = _pick(r, (("rel", 0.4), ("fam", 0.4), ("fore_rel", 0.2)))

    def _marry(self, husband: Person, wife: Person) -> None:
        r = self.r
        own = self._own_surname(wife)
        g = wife.group
        if g == "sikh" and husband.group == "sikh":
            wife.surname = husband.surname if r.random() < 0.8 or not own else own
            if husband.surname and wife.surname == husband.surname and own:
                wife.birth_surname = own
            if not wife.surname:
                wife.style = "rel"
            return
        if g == "somali":
            wife.surname = own
            return
        if r.random() < _TOOK_NAME.get(husband.group, 0.5) and husband.group == g:
            wife.surname = self._gender_form(wife, husband.masculine or husband.surname)
            wife.birth_surname = own
        else:
            wife.surname = own
        if g == "gujarati":
            wife.given = wife.given[:1] + [husband.given[0]]
        self._begum(wife, adult=True)

    def _children(self, hh: int, group: str, eldest: int, father: Person | None,
                  mother: Person | None, head: Person) -> list[Person]:
        r = self.r
        lam = _EXTRA_KIDS.get(group, 0.8)
        n = 1 + min(7, _poisson(r, lam))
        ages = [eldest]
        for _ in range(n - 1):
            nxt = ages[-1] - r.randint(1, 5)
            if nxt < 0:
                break
            ages.append(nxt)
        fam = father.masculine or father.surname if father else None
        unmarried = father is not None and mother is not None and not mother.birth_surname
        absent_father = self.surname(group) if father is None else None
        kids: list[Person] = []
        dbl = None
        if unmarried and group in ("british", "irish") and mother.surname != fam:
            if r.random() < _DOUBLE_BARRELLED_CHILD:
                dbl = f"{fam}-{mother.surname}"
        for age in ages:
            births = 2 if r.random() < _TWIN_RATE else 1
            first_twin = None
            for b in range(births):
                sex = "M" if r.random() < 0.512 else "F"
                if b == 1 and r.random() < 0.5:
                    sex = first_twin.sex
                ng = group
                if mother is not None and mother.group != group and r.random() < 0.4:
                    ng = mother.group
                c = self.person(hh, group, sex, age, "child", name_group=ng)
                c.group = group
                if first_twin is not None:
                    c.dob = first_twin.dob
                    while c.given[c.calling] == first_twin.given[first_twin.calling]:
                        c.given[c.calling] = self.forename(ng, sex, c.dob)
                    self.events.append(("population", c.pid, "dob", "twin"))
                    self.events.append(("population", first_twin.pid, "dob", "twin"))
                first_twin = c
                c.mother_surname = (mother.birth_surname or mother.surname) if mother else ""
                self._child_surname(c, group, father, mother, fam, unmarried, dbl,
                                    absent_father, head)
                kids.append(c)
        if father is not None and group in ("british", "irish", "west_african"):
            sons = [k for k in kids if k.sex == "M"]
            if sons and r.random() < _JUNIOR_RATE:
                son = sons[0]
                son.given[0] = father.given[0]
                son.calling = 0
                self.events.append(("population", son.pid, "forename", "junior"))
        return kids

    def _child_surname(self, c: Person, group: str, father: Person | None,
                       mother: Person | None, fam: str | None, unmarried: bool,
                       dbl: str | None, absent_father: str | None, head: Person) -> None:
        r = self.r
        if group == "somali":
            if father is not None:
                c.given = c.given[:1] + [father.given[0]]
                c.surname = father.given[1] if len(father.given) > 1 else father.surname
            else:
                c.surname = self.surname(group)
                c.given = c.given[:1] + [self.forename(group, "M", c.dob)]
            return
        if group == "sikh":
            c.religious = "Singh" if c.sex == "M" else "Kaur"
            src = father or mother or head
            c.surname = src.surname if src.group == "sikh" else ""
            c.style = src.style if src.style and r.random() < 0.7 else (
                "rel" if not c.surname else _pick(r, (("fam", 0.5), ("rel", 0.25),
                                                      ("relfam", 0.1), ("fore_rel", 0.15))))
            if not c.surname:
                c.style = "rel"
            return
        if group == "gujarati":
            dad = father.given[0] if father else self.forename(group, "M", c.dob)
            c.given = c.given[:1] + [dad]
        if father is None:
            base = (mother or head).surname if r.random() < 0.55 else absent_father
            c.surname = self._gender_form(c, _masc(base or "", mother))
        elif dbl is not None:
            c.surname = dbl
        elif unmarried and mother is not None:
            x = r.random()
            base = fam if x < 0.75 else _masc(mother.surname, mother)
            c.surname = self._gender_form(c, base or "")
        else:
            c.surname = self._gender_form(c, fam or "")
        if group == "bangladeshi" and c.sex == "M" and r.random() < 0.3:
            c.surname = self.surname(group)  # sons often get another family name
        if group in ("bangladeshi", "pakistani"):
            self._begum(c, adult=c.age >= 18)


def _masc(s: str, who: Person | None) -> str:
    if who is not None and who.masculine and s == who.surname:
        return who.masculine
    return s


def _pick(r: random.Random, options: tuple[tuple[str, float], ...]) -> str:
    x = r.random() * sum(w for _, w in options)
    for name, w in options:
        if x < w:
            return name
        x -= w
    return options[-1][0]


def _fold(s: str) -> str:
    """Strip accents: Zoë -> Zoe, Łukasz -> Lukasz, Ștefan -> Stefan."""
    s = s.replace("Ł", "L").replace("ł", "l").replace("ı", "i")
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


def _any_surname(r: random.Random, group: str) -> str:
    if group == "british":
        return (_BRIT_HEAD if r.random() < _BRIT_HEAD_SHARE else _BRIT_TAIL).draw(r)
    return _ORIGIN[group]["S"].draw(r)


def _any_forename(r: random.Random, group: str, sex: str, dob: dt.date) -> str:
    if group == "british":
        e = 0 if dob.year < 1960 else (1 if dob.year < 1990 else 2)
        return _BRIT_FORE[(sex, e)].draw(r)
    return _ORIGIN[group][sex].draw(r)


# ---------------------------------------------------------------------------------------
# Error model: one edit per typo, chosen by kind.
# ---------------------------------------------------------------------------------------

_VOWELS = "aeiou"
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _typo(r: random.Random, s: str) -> str:
    """One edit: omit a letter (30%), double one (15%), swap two adjacent (20%), another
    vowel (15%), another letter (10%), insert a letter (10%). The first letter is hit
    only one time in ten."""
    pos = [i for i, c in enumerate(s) if c.isalpha()]
    if len(pos) < 3:
        return s
    i = pos[0] if r.random() < 0.1 else r.choice(pos[1:])
    c = s[i]
    x = r.random()

    def keep_case(ch: str) -> str:
        return ch.upper() if c.isupper() else ch

    if x < 0.30:
        return s[:i] + s[i + 1:]
    if x < 0.45:
        return s[:i + 1] + s[i].lower() + s[i + 1:]
    if x < 0.65:
        j = i + 1 if i + 1 < len(s) and s[i + 1].isalpha() else i - 1
        if j > 0 and s[j].lower() != c.lower():
            a, b = min(i, j), max(i, j)
            first, second = s[b], s[a]
            if a == 0:  # keep the capital at the front
                first, second = first.upper(), second.lower()
            return s[:a] + first + second + s[b + 1:]
        return s[:i] + s[i + 1:]
    if x < 0.80 and c.lower() in _VOWELS:
        return s[:i] + keep_case(r.choice([v for v in _VOWELS if v != c.lower()])) + s[i + 1:]
    if x < 0.90:
        return s[:i] + keep_case(r.choice([v for v in _LETTERS if v != c.lower()])) + s[i + 1:]
    return s[:i + 1] + r.choice(_LETTERS) + s[i + 1:]


def _postcode_typo(r: random.Random, pc: str) -> str:
    out, inw = pc.split(" ")
    x = r.random()
    if x < 0.4:  # an inward letter
        k = r.choice((1, 2))
        inw = inw[:k] + r.choice([c for c in _INWARD_LETTERS if c != inw[k]]) + inw[k + 1:]
    elif x < 0.6 and inw[1] != inw[2]:  # inward letters swapped
        inw = inw[0] + inw[2] + inw[1]
    elif x < 0.85:  # sector digit
        inw = r.choice([d for d in "0123456789" if d != inw[0]]) + inw[1:]
    else:  # district number
        area = out.rstrip("0123456789")
        n = int(out[len(area):])
        out = f"{area}{max(1, n + r.choice((-1, 1)) if n > 1 else n + 1)}"
    return f"{out} {inw}"


_MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()


def _format_date(d: dt.date, kind: str) -> str:
    if kind == "la":
        return d.isoformat()
    if kind == "dwp":
        return f"{d.day:02d}/{d.month:02d}/{d.year}"
    return f"{d.day:02d}-{_MONTHS[d.month - 1]}-{d.year}"


def _shift_year(d: dt.date, k: int) -> dt.date:
    try:
        return d.replace(year=d.year + k)
    except ValueError:
        return d.replace(year=d.year + k, day=28)


class _Renderer:
    """Writes people as records of one file, with that file's conventions and errors."""

    def __init__(self, kind: str, profile: dict[str, float], r: random.Random,
                 log: list[tuple[str, str, str, str]], file_label: str) -> None:
        self.kind, self.p, self.r, self.log, self.file = kind, profile, r, log, file_label
        self.rid = ""

    def ev(self, fld: str, what: str) -> None:
        self.log.append((self.file, self.rid, fld, what))

    def hit(self, rate_name: str) -> bool:
        rate = self.p[rate_name]
        return rate > 0 and self.r.random() < rate

    # -- names -----------------------------------------------------------------------
    def names(self, p: Person, linked: bool) -> tuple[str, str]:
        r, ev, hit = self.r, self.ev, self.hit
        given, calling, fam = list(p.given), p.calling, p.surname
        if p.birth_surname and hit("maiden"):
            fam = p.birth_surname
            ev("surname", "maiden")
        mohammed = p.style in ("prefix", "both", "calling", "calling_prefix")
        if linked and hit("alias"):
            kind = _pick(r, (("surname", 0.35), ("forename", 0.2), ("spelling", 0.25),
                             ("middle", 0.2)))
            if kind == "middle" and (len(given) < 2 or mohammed or p.group == "somali"):
                kind = "forename"
            if kind == "surname" and (p.religious or not fam):
                kind = "spelling"
            if kind == "surname":
                alt = p.mother_surname if p.mother_surname not in ("", fam) else ""
                while not alt or alt == fam:
                    alt = _any_surname(r, p.group)
                fam = alt
            elif kind == "forename":
                cur = given[calling]
                alt = cur
                while alt == cur:
                    alt = _any_forename(r, p.group, p.sex, p.dob)
                given[calling] = alt
            elif kind == "middle":
                given = given[1:] + given[:1]
                calling = 0
            else:
                tgt = fam if fam else given[calling]
                var = r.choice(TRANSLIT[tgt]) if tgt in TRANSLIT else _typo(r, tgt)
                if fam:
                    fam = var
                else:
                    given[calling] = var
            ev("name", "alias_" + kind)

        # forename
        if mohammed:
            style = p.style
            if hit("mohammed_alt"):
                style = r.choice([s for s in ("prefix", "both", "calling", "calling_prefix")
                                  if s != style])
                ev("forename", "mohammed_form")
            prefix = given[0]
            if prefix == "Mohammed":
                prefix = p.prefix_spelling or "Mohammed"
                if hit("mohammed_spelling"):
                    prefix = r.choice([s for s, _ in MOHAMMED_SPELLINGS if s != prefix])
                    ev("forename", "mohammed_spelling")
            x = given[1]
            fore = {"prefix": prefix, "both": f"{prefix} {x}", "calling": x,
                    "calling_prefix": f"{x} {prefix}"}[style]
        elif calling == 1 and len(given) > 1:
            if hit("known_name"):
                fore = given[1]
                ev("forename", "known_by_middle")
            else:
                fore = given[0]
        else:
            fore = given[0]
            if len(given) > 1 and p.group != "somali" and hit("middle_as_forename"):
                fore = given[1]
                ev("forename", "middle_as_forename")
        if not mohammed and len(given) > 1 and fore == given[calling] and hit("full_given"):
            fore = " ".join(given)
            ev("forename", "full_given")

        # surname conventions
        sur = fam
        if p.religious in ("Singh", "Kaur"):
            style = p.style or "rel"
            if fam and hit("sikh_alt"):
                style = r.choice([s for s in ("fam", "rel", "relfam", "fore_rel") if s != style])
                ev("surname", "sikh_form")
            if not fam:
                style = "rel"
            if style == "rel":
                sur = p.religious
            elif style == "relfam":
                sur = f"{p.religious} {fam}"
            elif style == "fore_rel":
                fore = f"{fore} {p.religious}"
        elif p.religious:  # Begum, Bibi, Khatun
            style = p.style or "rel"
            if fam and hit("begum_alt"):
                style = r.choice([s for s in ("rel", "fam", "fore_rel") if s != style])
                ev("surname", "begum_form")
            if style == "rel" or not fam:
                sur = p.religious
            elif style == "fore_rel":
                fore = f"{fore} {p.religious}"

        if p.english and hit("english_name"):
            fore = p.english
            ev("forename", "english_name")
        if (p.group == "gujarati" and " " not in fore and p.age >= 18
                and hit("gujarati_suffix")):
            fore += "bhai" if p.sex == "M" else "ben"
            ev("forename", "gujarati_suffix")
        if fore in SHORT_FORMS and hit("short_form"):
            fore = r.choice(SHORT_FORMS[fore])
            ev("forename", "short_form")
        if self.p["translit"] > 0:
            fore = self._translit(fore, "forename")
            sur = self._translit(sur, "surname")
        if p.masculine and sur == p.surname and hit("polish_form"):
            sur = p.masculine
            ev("surname", "polish_form")
        if "-" in sur:
            x = r.random()
            if x < self.p["dbl_partial"]:
                parts = sur.split("-")
                sur = parts[0] if r.random() < 0.6 else parts[-1]
                ev("surname", "dbl_partial")
            elif x < self.p["dbl_partial"] + self.p["dbl_nohyphen"]:
                sur = sur.replace("-", "" if r.random() < 0.1 else " ")
                ev("surname", "dbl_nohyphen")
        if "'" in sur:
            x = r.random()
            if x < self.p["apostrophe_drop"]:
                sur = sur.replace("'", "")
                ev("surname", "apostrophe_dropped")
            elif x < self.p["apostrophe_drop"] + self.p["apostrophe_space"]:
                sur = sur.replace("'", " ")
                ev("surname", "apostrophe_space")
        if hit("strip_accents"):
            f2, s2 = _fold(fore), _fold(sur)
            if (f2, s2) != (fore, sur):
                fore, sur = f2, s2
                ev("name", "accent_stripped")
        if fore and sur and hit("swap_chinese" if p.group == "chinese" else "swap"):
            fore, sur = sur, fore
            ev("name", "swap")
        if fore and hit("initial"):
            fore = fore[0] + ("." if r.random() < 0.3 else "")
            ev("forename", "initial")
        if fore and hit("forename_typo"):
            t = _typo(r, fore)
            if t != fore:
                fore = t
                ev("forename", "typo")
        if sur and hit("surname_typo"):
            t = _typo(r, sur)
            if t != sur:
                sur = t
                ev("surname", "typo")
        if hit("forename_missing"):
            fore = ""
            ev("forename", "missing")
        if hit("surname_missing"):
            sur = ""
            ev("surname", "missing")
        fore, sur = self._case(fore, sur)
        if hit("whitespace"):
            which = r.random() < 0.5
            s = fore if which else sur
            x = r.random()
            s = (" " + s) if x < 0.35 else (s + " ") if x < 0.7 else (
                s.replace(" ", "  ") if " " in s else s + "  ")
            fore, sur = (s, sur) if which else (fore, s)
            ev("forename" if which else "surname", "whitespace")
        return fore, sur

    def _translit(self, s: str, fld: str) -> str:
        if not s:
            return s
        toks = s.split(" ")
        changed = False
        for i, t in enumerate(toks):
            if t in TRANSLIT and self.r.random() < self.p["translit"]:
                toks[i] = self.r.choice(TRANSLIT[t])
                changed = True
        if changed:
            self.ev(fld, "translit")
        return " ".join(toks)

    def _case(self, fore: str, sur: str) -> tuple[str, str]:
        r = self.r
        x = r.random()
        if self.kind == "moj":
            sur = sur.upper()
            if x < self.p["upper"]:
                fore = fore.upper()
            elif x < self.p["upper"] + self.p["lower"]:
                fore = fore.lower()
            return fore, sur
        if x < self.p["upper"]:
            return fore.upper(), sur.upper()
        if x < self.p["upper"] + self.p["lower"]:
            return fore.lower(), sur.lower()
        return fore, sur

    # -- other fields ----------------------------------------------------------------
    def dob(self, p: Person) -> str:
        r, ev = self.r, self.ev
        d = p.dob
        x = r.random()
        cuts = []
        t = 0.0
        for k in ("dob_swap", "dob_day", "dob_year", "dob_digit", "dob_first", "dob_missing"):
            t += self.p[k]
            cuts.append((t, k))
        kind = next((k for c, k in cuts if x < c), None)
        if kind == "dob_missing":
            ev("dob", "missing")
            return ""
        if kind == "dob_swap" and d.day <= 12 and d.day != d.month:
            d = dt.date(d.year, d.day, d.month)
            ev("dob", "day_month_swap")
        elif kind == "dob_day":
            d2 = d + dt.timedelta(days=r.choice((-1, 1)))
            d = d2 if d2 <= REFERENCE_DATE else d - dt.timedelta(days=1)
            ev("dob", "off_by_one_day")
        elif kind == "dob_year":
            d2 = _shift_year(d, r.choice((-1, 1)))
            d = d2 if d2 <= REFERENCE_DATE else _shift_year(d, -1)
            ev("dob", "off_by_one_year")
        elif kind == "dob_digit":
            digits = f"{d.year:04d}{d.month:02d}{d.day:02d}"
            for _ in range(20):
                k = r.choice((2, 3, 3, 4, 5, 6, 7, 7))
                nd = digits[:k] + r.choice([c for c in "0123456789" if c != digits[k]]) + \
                    digits[k + 1:]
                try:
                    d2 = dt.date(int(nd[:4]), int(nd[4:6]), int(nd[6:]))
                except ValueError:
                    continue
                if d2 <= REFERENCE_DATE and d2.year >= 1920:
                    d = d2
                    ev("dob", "digit_typo")
                    break
        elif kind == "dob_first" and d.day != 1:
            d = dt.date(d.year, 1, 1) if r.random() < 0.2 else d.replace(day=1)
            ev("dob", "day_unknown_first")
        return _format_date(d, self.kind)

    def sex(self, p: Person) -> str:
        r, ev = self.r, self.ev
        s = p.sex
        x = r.random()
        if x < self.p["sex_missing"]:
            ev("sex", "missing")
            return {"la": "U" if r.random() < 0.4 else "", "dwp": "",
                    "moj": "Unknown" if r.random() < 0.5 else ""}[self.kind]
        if x < self.p["sex_missing"] + self.p["sex_wrong"]:
            s = "F" if s == "M" else "M"
            ev("sex", "miscoded")
        if self.kind == "dwp":
            return "1" if s == "M" else "2"
        if self.kind == "moj":
            return "Male" if s == "M" else "Female"
        return s

    def postcode(self, pc: str) -> str:
        r, ev = self.r, self.ev
        x = r.random()
        if x < self.p["postcode_missing"]:
            ev("postcode", "missing")
            if r.random() < self.p["postcode_nfa"]:
                return "NFA" if r.random() < 0.6 else "ZZ99 3VZ"
            return ""
        if x < self.p["postcode_missing"] + self.p["postcode_typo"]:
            pc = _postcode_typo(r, pc)
            ev("postcode", "typo")
        y = r.random()
        if self.kind == "la":
            if y < 0.04:
                pc = pc.replace(" ", "")
            elif y < 0.06:
                pc = pc.lower()
        elif self.kind == "dwp" and y < 0.3:
            pc = pc.replace(" ", "")
        return pc

    def nino(self, p: Person) -> str:
        r = self.r
        if not p.nino or p.age < 16 or r.random() >= self.p["nino_present"]:
            return ""
        n = p.nino
        if r.random() < self.p["nino_typo"]:
            k = r.randint(2, 7)
            n = n[:k] + r.choice([c for c in "0123456789" if c != n[k]]) + n[k + 1:]
            self.ev("nino", "typo")
        if self.kind == "la" and r.random() < 0.4:
            n = f"{n[:2]} {n[2:4]} {n[4:6]} {n[6:8]} {n[8]}"
        return n

    def record(self, rid: str, p: Person, pc: str, linked: bool) -> dict[str, str]:
        self.rid = rid
        fore, sur = self.names(p, linked)
        cols = COLUMNS[self.kind]
        return {cols["id"]: rid, cols["first"]: fore, cols["last"]: sur,
                cols["dob"]: self.dob(p), cols["sex"]: self.sex(p),
                cols["postcode"]: self.postcode(pc), cols["nino"]: self.nino(p)}


# ---------------------------------------------------------------------------------------
# Scenarios.
# ---------------------------------------------------------------------------------------


@dataclass
class Scenario:
    """Two files, the true links and a log of every convention and error applied."""

    name: str
    seed: int
    scale: float
    a: pd.DataFrame
    b: pd.DataFrame
    truth: pd.DataFrame
    log: pd.DataFrame  # file (a/b), record_id, field, kind
    info: dict[str, Any] = field(default_factory=dict)


def _offender_weight(p: Person) -> float:
    a = p.age
    if a < 10:
        return 0.0
    w = 4.0 if p.sex == "M" else 1.0
    if a < 18:
        return w * 0.6
    if a <= 35:
        return w
    if a <= 50:
        return w * 0.6
    if a <= 65:
        return w * 0.25
    return w * 0.05


def _weighted_sample(r: random.Random, people: list[Person], weights: list[float],
                     k: int) -> list[Person]:
    """k people without replacement, with probability proportional to weight."""
    keyed = [(r.random() ** (1.0 / w), i) for i, w in enumerate(weights) if w > 0]
    keyed.sort(reverse=True)
    return [people[i] for _, i in keyed[:k]]


def _namesake(pop: _People, src: Person, min_age: int) -> Person:
    """A different person with the same name as ``src``, born 0-15 years apart."""
    r = pop.r
    x = r.random()
    if x < 0.15:
        gap = 0
    elif x < 0.5:
        gap = r.choice((-3, -2, -1, 1, 2, 3))
    else:
        gap = r.choice((-1, 1)) * r.randint(4, 15)
    age = src.age + gap
    if age < min_age or age > 95:
        age = src.age - gap
    age = max(min_age, min(95, age))
    dob = _dob_for_age(r, age)
    if dob == src.dob:
        dob = dob - dt.timedelta(days=r.randint(1, 200))
    hh = pop.next_hh
    pop.next_hh += 1
    keep = src.calling + 1 if src.style or src.group in ("somali", "gujarati") else 1
    given = src.given[:keep]
    if len(given) == 1:
        given += pop.middle(src.group, src.sex, dob)
    q = Person(pop.next_pid, hh, src.group, src.sex, dob, given, calling=src.calling,
               surname=src.surname, birth_surname=src.birth_surname,
               religious=src.religious, style=src.style, prefix_spelling=src.prefix_spelling,
               masculine=src.masculine, role="namesake")
    pop.next_pid += 1
    if q.age >= 16:
        q.nino = pop._nino()
    if r.random() < 0.4:
        d = src.pc_b.split(" ")[0]
        q.pc_a = q.pc_b = f"{d} {r.choice(pop.region._units(d))}"
    else:
        q.pc_a = q.pc_b = pop.region.place(0.55)
    pop.events.append(("population", q.pid, "name", "namesake"))
    return q


def _households_until(pop: _People, n: int, home_share: float) -> list[Person]:
    out: list[Person] = []
    while len(out) < n:
        out += pop.household(_GROUP_SAMPLER.draw(pop.r), home_share)
    return out[:n]


def _ids(r: random.Random, kind: str, n: int) -> list[str]:
    if kind == "la":
        return [f"LA{x}" for x in r.sample(range(1_000_000, 10_000_000), n)]
    if kind == "dwp":
        return [f"D{x}" for x in r.sample(range(10_000_000, 100_000_000), n)]
    nums = r.sample(range(0, 10_000_000), n)
    return [f"{r.choice(range(80, 125)) % 100:02d}/{x:07d}{r.choice('ABCDEFGHJKLMNPQRTUVWXYZ')}"
            for x in nums]


def generate(name: str, seed: int = 7, scale: float = 1.0) -> Scenario:
    """Build scenario ``name`` (``la_dwp`` or ``la_moj``); the same seed gives the same
    files, byte for byte."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose one of {sorted(SCENARIOS)}")
    if not scale > 0:
        raise ValueError("scale must be > 0")
    spec = SCENARIOS[name]
    n_a = max(20, int(round(spec["n_a"] * scale)))
    n_b = max(20, int(round(spec["n_b"] * scale)))
    base = f"independent-data|{name}|{int(seed)}"
    rp = random.Random(base + "|people")
    region = _Region(rp, int((n_a + n_b) / 2.4))
    pop = _People(rp, region)

    a_people = _households_until(pop, n_a, home_share=0.92)
    moved = float(spec["moved"])
    by_hh: dict[int, list[Person]] = {}
    for p in a_people:
        by_hh.setdefault(p.hh, []).append(p)
    n_moved = 0
    for members in by_hh.values():
        if rp.random() < moved:
            new = region.move(members[0].pc_a)
            for p in members:
                p.pc_b = new
            n_moved += 1

    if name == "la_dwp":
        linked = [p for p in a_people
                  if rp.random() < spec["p_adult" if p.age >= 16 else "p_child"]]
        n_others = max(0, n_b - len(linked))
        n_ns = int(round(float(spec["namesakes"]) * n_others))
        others = _households_until(pop, n_others - n_ns, home_share=0.55)
        others += [_namesake(pop, rp.choice(a_people), 0) for _ in range(n_ns)]
    else:
        k = min(n_b, max(1, int(round(spec["linked_b"] * scale))))
        linked = _weighted_sample(rp, a_people, [_offender_weight(p) for p in a_people], k)
        n_others = n_b - len(linked)
        n_ns = int(round(float(spec["namesakes"]) * n_others))
        pool = _households_until(pop, 4 * (n_others - n_ns) + 50, home_share=0.55)
        others = _weighted_sample(rp, pool, [_offender_weight(p) for p in pool],
                                  n_others - n_ns)
        adults_a = [p for p in a_people if p.age >= 10]
        src = _weighted_sample(rp, adults_a, [_offender_weight(p) for p in adults_a],
                               min(n_ns, len(adults_a)))
        while len(src) < n_ns:
            src.append(rp.choice(adults_a))
        others += [_namesake(pop, s, 10) for s in src]

    kind_b = str(spec["kind_b"])
    rid = random.Random(base + "|ids")
    ids_a = _ids(rid, "la", len(a_people))
    ids_b = _ids(rid, kind_b, len(linked) + len(others))
    log: list[tuple[str, str, str, str]] = []
    ra = _Renderer("la", PROFILES[str(spec["a"])], random.Random(base + "|file-a"), log, "a")
    rb = _Renderer(kind_b, PROFILES[str(spec["b"])], random.Random(base + "|file-b"), log,
                   "b")
    a_of: dict[int, str] = {}
    rows_a = []
    for p, i in zip(a_people, ids_a):
        a_of[p.pid] = i
        rows_a.append(ra.record(i, p, p.pc_a, linked=False))
    b_of: dict[int, str] = {}
    rows_b = []
    linked_ids = {p.pid for p in linked}
    for p, i in zip(linked + others, ids_b):
        b_of[p.pid] = i
        rows_b.append(rb.record(i, p, p.pc_b, linked=p.pid in linked_ids))
    for p in linked:
        if p.pc_b != p.pc_a:
            log.append(("b", b_of[p.pid], "postcode", "moved"))
    for _, pid, fld, what in pop.events:
        if pid in a_of:
            log.append(("a", a_of[pid], fld, what))
        if pid in b_of:
            log.append(("b", b_of[pid], fld, what))
    rs = random.Random(base + "|order")
    rs.shuffle(rows_a)
    rs.shuffle(rows_b)
    df_a = pd.DataFrame(rows_a, dtype=str)
    df_b = pd.DataFrame(rows_b, dtype=str)
    truth = pd.DataFrame({"id_a": [a_of[p.pid] for p in linked],
                          "id_b": [b_of[p.pid] for p in linked]}, dtype=str)
    truth = truth.sort_values("id_a", kind="stable").reset_index(drop=True)
    log_df = pd.DataFrame(log, columns=["file", "record_id", "field", "kind"])
    groups: dict[str, int] = {}
    for p in a_people:
        groups[p.group] = groups.get(p.group, 0) + 1
    info: dict[str, Any] = {"n_a": len(df_a), "n_b": len(df_b), "links": len(truth),
            "namesakes": n_ns, "households_a": len(by_hh), "households_moved": n_moved,
            "profile_a": str(spec["a"]), "profile_b": str(spec["b"]), "kind_b": kind_b,
            "groups_a": dict(sorted(groups.items(), key=lambda kv: -kv[1]))}
    return Scenario(name, int(seed), float(scale), df_a, df_b, truth, log_df, info)


def make_scenario(name: str, seed: int = 7, scale: float = 1.0
                  ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(df_a, df_b, truth_df)`` for scenario ``name``; every column is a string."""
    s = generate(name, seed, scale)
    return s.a, s.b, s.truth


def _readme(s: Scenario) -> str:
    spec = SCENARIOS[s.name]
    ca, cb = COLUMNS["la"], COLUMNS[str(s.info["kind_b"])]
    pa, pb = PROFILES[str(spec["a"])], PROFILES[str(spec["b"])]
    lines = [
        f"Independent UK-like linkage scenario {s.name!r} (benchmarks/independent_data.py)",
        f"seed {s.seed}, scale {s.scale}; reference date {REFERENCE_DATE.isoformat()}",
        "Not made by nislink.synth. See the module docstring for every assumption.",
        "",
        f"a.csv: {s.info['n_a']} LA records; columns {', '.join(ca.values())}",
        "  dates YYYY-MM-DD; gender M/F (U or blank = unknown)",
        f"b.csv: {s.info['n_b']} {s.info['kind_b'].upper()} records; "
        f"columns {', '.join(cb.values())}",
        "  dates DD/MM/YYYY; sex 1 = male, 2 = female" if s.info["kind_b"] == "dwp" else
        "  dates DD-MON-YYYY; sex Male/Female/Unknown; postcode NFA or ZZ99 3VZ = no fixed abode",
        f"truth.csv: {s.info['links']} true links (id_a, id_b); each person at most once per"
        " file",
        f"namesakes in b (same name as an LA person, another person): {s.info['namesakes']}",
        f"households moved between the extracts: {s.info['households_moved']} of "
        f"{s.info['households_a']} (rate {spec['moved']})",
        "",
        "Population shares by origin of names (stated): " + ", ".join(
            f"{g} {v:.3f}" for g, v in GROUP_SHARES.items()),
        "Realised in a.csv: " + ", ".join(
            f"{g} {n}" for g, n in s.info["groups_a"].items()),
        "",
        f"{'rate':22s} {'a':>7s} {'b':>7s}",
    ]
    for k in pa:
        lines.append(f"{k:22s} {pa[k]:7.3f} {pb[k]:7.3f}")
    return "\n".join(lines) + "\n"


def write_scenario(s: Scenario, out: str | Path) -> Path:
    """Write a.csv, b.csv, truth.csv and README.txt into ``out``."""
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    s.a.to_csv(d / "a.csv", index=False)
    s.b.to_csv(d / "b.csv", index=False)
    s.truth.to_csv(d / "truth.csv", index=False)
    (d / "README.txt").write_text(_readme(s), encoding="utf-8")
    return d


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", choices=sorted(SCENARIOS), required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    s = generate(args.scenario, args.seed, args.scale)
    d = write_scenario(s, args.out)
    print(f"{args.scenario}: a {len(s.a)}, b {len(s.b)}, links {len(s.truth)} -> {d} "
          f"({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
