/* numtext.h - DynamoDB's longest number texts, for the number tables of
 * test_ddbvalue and test_keyname. */
#ifndef DYNAMOFS_TEST_NUMTEXT_H
#define DYNAMOFS_TEST_NUMTEXT_H

/* Runs of zeros and nines, to write DynamoDB's long number texts. */
#define Z10 "0000000000"
#define Z50 Z10 Z10 Z10 Z10 Z10
#define N10 "9999999999"
/* 0.(129 zeros)1 = 1E-130, the smallest magnitude DynamoDB holds. */
#define TINY                                                                   \
	"0." Z50 Z50 Z10 Z10 "000000000"                                       \
	"1"
/* 38 nines and 88 zeros = 9.99...E+125, the largest. */
#define HUGE N10 N10 N10 "99999999" Z50 Z10 Z10 Z10 "00000000"

#endif
